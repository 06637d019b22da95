# -*- coding: utf-8 -*-
# Copyright: quietnode maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The report's outputs: the per-minute timeline, findings.json, report.html, the terminal lines, the fleet index.

report.html is one file: data as JSON inside it, charts drawn by a small inline script into SVG
(no library, no CDN, nothing fetched), so it opens offline in any browser years later.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import glob
import html
import json
import os
import time

from ansible_collections.quietnode.baseline.plugins.module_utils._evidence_records import iso
from ansible_collections.quietnode.baseline.plugins.module_utils._report_bundle import iso_epoch
from ansible_collections.quietnode.baseline.plugins.module_utils._report_rules import (
    SEVERITIES, TEMP_DIRS, benign_label, spikes, user_name,
)

SCHEMA = 'quietnode.evidence_report/1'
MAX_PROCS_EMBEDDED = 20000
EVENT_KINDS = ('ssh_fail', 'ban', 'accepted', 'sudo', 'cron', 'unit', 'package', 'audit_exec', 'proc_end', 'denied', 'conn_out')


def _sample_minutes(ev):
    """Each sysstat sample with every UTC minute it covers: sadc averages over its interval (10 minutes by
    default), so a 10-minute sample stands for each of its 10 minutes."""
    for t in sorted(ev.samples):
        s = ev.samples[t]
        last = int(t // 60 * 60)
        first = int((t - s.get('interval', 60)) // 60 * 60) + 60
        for m in range(min(first, last), last + 60, 60):
            yield t, s, m


def timeline(ev):
    """Per UTC minute: CPU, load, memory, network per interface, TCP opens, disk, and event counts."""
    acc = collections.defaultdict(lambda: collections.defaultdict(float))
    seen = collections.Counter()
    ifaces = set()
    for t, s, m in _sample_minutes(ev):
        seen[m] += 1
        row = acc[m]
        cpu = s.get('cpu') or {}
        for k in ('user', 'system', 'iowait', 'steal'):
            row['cpu_' + k] += cpu.get(k, 0) + (cpu.get('nice', 0) if k == 'user' else 0)
        row['load1'] += s['load1']
        row['runq'] += s['runq']
        row['mem'] += s['mem']
        for iface, (rx, tx, rxp, txp) in s.get('net', {}).items():
            ifaces.add(iface)
            row['rx:' + iface] += rx
            row['tx:' + iface] += tx
            row['rxp:' + iface] += rxp
            row['txp:' + iface] += txp
        row['tcp_out'] += s['tcp'][0]
        row['tcp_in'] += s['tcp'][1]
        row['disk_r'] += s['disk'][0]
        row['disk_w'] += s['disk'][1]
    events = collections.defaultdict(collections.Counter)
    ssh = ev.ssh[ev.ssh_source]['per_minute']
    for m, n in ssh.items():
        events['ssh_fail'][m] += n
    for kind in ('ban', 'accepted', 'sudo', 'cron', 'unit', 'package'):
        for e in ev.events.get(kind, []):
            events[kind][int(e['t'] // 60 * 60)] += 1
    for rec in ev.audit_exec:
        if rec['exe'].startswith(TEMP_DIRS + ('/memfd:',)) or rec['exe'].endswith('(deleted)'):
            events['audit_exec'][int(rec['t'] // 60 * 60)] += 1
    # the network recorders' counts per minute (every logged line, not only the rows kept for attribution)
    denied = ev.denied.get('per_minute') if isinstance(ev.denied, dict) else None
    conn_out = (ev.network_summary or {}).get('connlog_per_minute') if isinstance(ev.network_summary, dict) else None
    for kind, per in (('denied', denied), ('conn_out', conn_out)):
        for stamp, n in (per or {}).items():
            try:
                m = int(iso_epoch(stamp + ':00Z'))
            except (TypeError, ValueError, IndexError):
                continue
            if ev.in_window(m):
                events[kind][m] += n
    cpu_end = collections.Counter()
    for rec in ev.acct:
        m = int(rec[1] // 60 * 60)
        events['proc_end'][m] += 1
        cpu_end[m] += rec[2]
    keys = set(acc)
    for counter in events.values():
        keys.update(counter)
    if not keys:
        return {'minutes': [], 'series': {}, 'events': {}, 'ifaces': []}
    lo = max(min(keys), int(ev.since // 60 * 60))
    hi = min(max(keys), int(ev.until // 60 * 60))
    minutes = list(range(lo, hi + 60, 60))
    series = collections.OrderedDict()
    names = ['cpu_user', 'cpu_system', 'cpu_iowait', 'cpu_steal', 'load1', 'runq', 'mem', 'tcp_out', 'tcp_in', 'disk_r', 'disk_w']
    for iface in sorted(ifaces):
        names += ['rx:' + iface, 'tx:' + iface, 'rxp:' + iface, 'txp:' + iface]
    for name in names:
        series[name] = [round(acc[m][name] / seen[m], 2) if seen[m] else None for m in minutes]
    return {'minutes': minutes, 'series': series, 'ifaces': sorted(ifaces),
            'events': dict((k, [events[k].get(m, 0) for m in minutes]) for k in EVENT_KINDS),
            'proc_end_cpu': [round(cpu_end.get(m, 0), 1) for m in minutes]}


def processes(ev):
    """Processes for the CPU-by-range table: [start, end, cpu_s, user, command, label], heaviest first.

    atop's per-interval rows when the bundle has them (every process, running or ended); else ended processes
    from accounting plus those running at collection time."""
    if getattr(ev, 'atop', None):
        from ansible_collections.quietnode.baseline.plugins.module_utils._report_process import process_rows
        return process_rows(ev, MAX_PROCS_EMBEDDED)
    rows = sorted(ev.acct, key=lambda r: -r[2])
    out = []
    for btime, end, cpu, uid, comm, _elapsed, _sig, _member, _index in rows[:MAX_PROCS_EMBEDDED]:
        if cpu <= 0 and len(out) > 2000:
            break
        user = user_name(ev, uid)
        out.append([int(btime), round(end, 1), cpu, user, comm, benign_label(comm, user) or ''])
    for proc in ev.processes or []:
        cpu = (proc.get('utime_s') or 0) + (proc.get('stime_s') or 0)
        if cpu >= 0.1:
            out.append([_epoch(proc.get('start')) or ev.started, ev.started, round(cpu, 2), proc.get('user') or '?',
                        proc.get('comm'), 'still running'])
    return out, max(0, len(rows) - MAX_PROCS_EMBEDDED)


def _epoch(text):
    if not text:
        return None
    try:
        return time.mktime(time.strptime(text[:19], '%Y-%m-%dT%H:%M:%S')) - time.timezone
    except ValueError:
        return None


def findings_doc(ev, findings, ctx):
    recorders = [{'recorder': r.get('recorder'), 'status': r.get('status'), 'detail': r.get('detail')} for r in (ev.readiness or [])]
    worst = max((SEVERITIES.index(f['severity']) for f in findings), default=0)
    ssh_sources = []
    for f in findings:
        if f['rule'] == 'ssh-bruteforce':
            ssh_sources = [s['ip'] for s in f['facts']['sources']]
    return {
        'schema': SCHEMA,
        'host': ev.host,
        'bundle': os.path.basename(ev.path),
        'bundle_sha256': ev.sha256,
        'generated': iso(int(time.time())),
        'collection_started': iso(ev.started),
        'window': {'since': iso(int(ev.since)), 'until': iso(int(ev.until)), 'given': ev.window_given},
        'max_severity': SEVERITIES[worst],
        'counts': dict((s, sum(1 for f in findings if f['severity'] == s)) for s in SEVERITIES),
        'coverage': {'recorders': recorders, 'members_read': sorted(ev.present),
                     'members_missing': sorted(set(['sysstat', 'pacct', 'journal', 'passwd', 'changed_files', 'processes',
                                                    'readiness']) - ev.present),
                     'processes_not_embedded': 0},
        'owner': {'allowlist': ctx.allowlist, 'controller': sorted(ctx.controller)},
        'correlation': {'cpu_spike_minutes': [iso(m) for m, _v, _med in spikes(ev)], 'attack_sources': ssh_sources},
        'findings': findings,
    }


def summary_lines(host, findings):
    """One terminal line per finding: host, severity, confidence, title and the key fact."""
    return ['%s %s [%s] %s%s' % (host, f['severity'].upper(), f['confidence'], f['title'], _short(f)) for f in findings]


def _short(f):
    facts = f['facts']
    if f['rule'] == 'ssh-bruteforce':
        return ' (%d source(s), %d connection(s), %d guess(es))' % (facts['source_count'], facts['connections'], facts['guesses'])
    if f['rule'] in ('ssh-login-unknown', 'ssh-login-after-failures'):
        return ' (%s from %s)' % (facts['user'], facts['ip'])
    if f['rule'] in ('cpu-service-account', 'exec-disguised'):
        return ' (%s as %s, %s CPU s)' % (facts['command'], facts['user'], facts['cpu_s'])
    if f['rule'] == 'exec-temp':
        return ' (%s as %s)' % (facts['program'], facts['user'])
    if f['rule'] == 'persistence':
        return ' (%s: %s)' % (facts['kind'], ', '.join(facts.get('paths', [])[:3]))
    if f['rule'] == 'net-out-spike':
        return ' (%s, %.1f MB)' % (facts['iface'], facts['bytes'] / 1048576.0)
    if f['rule'] == 'recorder-off':
        return ' (%s %s)' % (facts['recorder'], facts['status'])
    if f['rule'] == 'missing-evidence':
        return ' (%s)' % facts['member']
    if f['rule'] == 'persistence-metadata':
        return ' (%d file(s))' % len(facts['paths'])
    if f['rule'] == 'uid0-account':
        return ' (%s)' % ', '.join(facts['users'])
    if f['rule'] == 'cron-vanished':
        return ' (%r as %s, %d runs)' % (facts['command'], facts['user'], facts['runs'])
    return ''


def _json_for_script(obj):
    return json.dumps(obj, separators=(',', ':'), sort_keys=True).replace('</', '<\\/').replace('<!--', '<\\!--')


def _esc(text):
    return html.escape(str(text if text is not None else ''), quote=True)


def render_html(ev, doc, tl, procs, dropped):
    refs = []
    cards = []
    for f in doc['findings']:
        links = []
        for ref in f['evidence']:
            refs.append(ref)
            kind = next((k for k in ('line', 'record', 'key') if k in ref), 'key')
            where = ref.get(kind, '')
            links.append('<a href="#ev-%d">%s %s %s</a>' % (len(refs), _esc(ref['member']), kind, _esc(where)))
        tr = f['time_range']
        cards.append(
            '<section class="finding sev-%(sev)s" id="%(id)s"><h3><span class="badge">%(sevu)s</span> %(title)s</h3>'
            '<p class="meta">%(id)s &middot; confidence: %(conf)s &middot; %(range)s%(labels)s</p>'
            '<p>%(text)s</p><p class="next"><b>What to do:</b> %(next)s</p>%(ev)s</section>' % {
                'sev': f['severity'], 'sevu': f['severity'].upper(), 'id': _esc(f['id']), 'title': _esc(f['title']),
                'conf': _esc(f['confidence']), 'text': _esc(f['explanation']), 'next': _esc(f['next_steps']),
                'range': _esc('%s to %s' % (tr['start'], tr['end']) if tr['start'] else 'no time range'),
                'labels': _esc(' · ' + ', '.join(f['labels'])) if f['labels'] else '',
                'ev': ('<p class="refs">Evidence: %s</p>' % ' · '.join(links)) if links else ''})
    appendix = ''.join('<li id="ev-%d"><code>%s</code> %s<pre>%s</pre></li>' % (
        n, _esc(r['member']), _esc(', '.join('%s %s' % (k, r[k]) for k in ('line', 'record', 'key') if k in r)), _esc(r.get('excerpt', '')))
        for n, r in enumerate(refs, 1))
    rec_rows = ''.join('<tr class="st-%s"><td>%s</td><td>%s</td><td>%s</td></tr>' % (
        _esc(r['status']), _esc(r['recorder']), _esc(r['status']), _esc(r['detail'])) for r in doc['coverage']['recorders'])
    counts = doc['counts']
    verdict = {'critical': 'Signs of a compromise. Read the red findings first.',
               'high': 'Something needs your attention: read the findings marked HIGH.',
               'medium': 'Nothing shows a break-in, but some findings deserve a look.',
               'low': 'Nothing alarming was found, but some recorders were off, so parts of the night are unknown.',
               'info': 'Nothing alarming was found in what was recorded.'}[doc['max_severity']]
    data = {'host': ev.host, 'tl': tl, 'procs': procs, 'dropped': dropped, 'started': ev.started}
    return PAGE % {
        'host': _esc(ev.host), 'since': _esc(doc['window']['since']), 'until': _esc(doc['window']['until']),
        'bundle': _esc(doc['bundle']), 'sha': _esc(doc['bundle_sha256']), 'verdict': _esc(verdict),
        'counts': _esc(', '.join('%d %s' % (counts[s], s) for s in reversed(SEVERITIES) if counts[s])),
        'cards': ''.join(cards) or '<p>No findings.</p>', 'recorders': rec_rows, 'appendix': appendix,
        'data': _json_for_script(data), 'css': CSS, 'js': JS, 'generated': _esc(doc['generated']),
    }


def write_outputs(ev, findings, ctx, dest):
    tl = timeline(ev)
    procs, dropped = processes(ev)
    doc = findings_doc(ev, findings, ctx)
    doc['coverage']['processes_not_embedded'] = dropped
    os.makedirs(dest, exist_ok=True)
    paths = {'findings': os.path.join(dest, 'findings.json'), 'html': os.path.join(dest, 'report.html')}
    for key, text in (('findings', json.dumps(doc, indent=1, sort_keys=True, default=str) + '\n'),
                      ('html', render_html(ev, doc, tl, procs, dropped))):
        tmp = paths[key] + '.tmp'
        with open(tmp, 'w', encoding='utf-8') as handle:
            handle.write(text)
        os.replace(tmp, paths[key])
    return doc, paths


# -- fleet ---------------------------------------------------------------------------------
def latest_findings(root):
    """The newest findings.json of each host below root (root/<host>/<stamp>/findings.json)."""
    latest = {}
    for path in sorted(glob.glob(os.path.join(root, '*', '*', 'findings.json'))):
        host = os.path.basename(os.path.dirname(os.path.dirname(path)))
        latest[host] = path
    docs = []
    for host, path in sorted(latest.items()):
        try:
            with open(path, encoding='utf-8') as handle:
                doc = json.load(handle)
        except (OSError, ValueError):
            continue
        if doc.get('schema') == SCHEMA:
            doc['_path'] = os.path.relpath(os.path.dirname(path), root)
            doc['_dir'] = host
            docs.append(doc)
    return docs


def correlate(docs):
    """Spikes at the same minute on two or more hosts (scheduled work), and addresses that attacked several hosts."""
    minutes = collections.defaultdict(set)
    sources = collections.defaultdict(set)
    for doc in docs:
        for m in doc.get('correlation', {}).get('cpu_spike_minutes', []):
            minutes[m].add(doc['_dir'])
        for ip in doc.get('correlation', {}).get('attack_sources', []):
            sources[ip].add(doc['_dir'])
    shared = [{'minute': m, 'hosts': sorted(h), 'label': 'scheduled: the same minute on %d hosts' % len(h)}
              for m, h in sorted(minutes.items()) if len(h) >= 2]
    attackers = [{'ip': ip, 'hosts': sorted(h)} for ip, h in sorted(sources.items(), key=lambda kv: (-len(kv[1]), kv[0])) if len(h) >= 2]
    return {'shared_spike_minutes': shared, 'shared_attackers': attackers}


def write_index(root):
    docs = latest_findings(root)
    docs.sort(key=lambda d: (-SEVERITIES.index(d.get('max_severity', 'info')),
                             -sum(d['counts'].get(s, 0) * 10 ** i for i, s in enumerate(SEVERITIES)), d['_dir']))
    corr = correlate(docs)
    rows = []
    for doc in docs:
        top = [f for f in doc['findings'] if f['severity'] not in ('info',)][:3]
        rows.append('<tr class="sev-%s"><td><a href="%s/report.html">%s</a></td><td><span class="badge">%s</span></td>'
                    '<td>%s</td><td>%s</td><td>%s</td></tr>' % (
                        _esc(doc['max_severity']), _esc(doc['_path']), _esc(doc['_dir']), _esc(doc['max_severity'].upper()),
                        _esc(', '.join('%d %s' % (doc['counts'][s], s) for s in reversed(SEVERITIES) if doc['counts'].get(s))),
                        _esc('; '.join(f['title'] for f in top)), _esc(doc.get('collection_started'))))
    shared = ''.join('<li>%s: %s (%s)</li>' % (_esc(s['minute']), _esc(', '.join(s['hosts'])), _esc(s['label']))
                     for s in corr['shared_spike_minutes']) or '<li>None: no CPU spike happened at the same minute on two hosts.</li>'
    attackers = ''.join('<li>%s attacked %s</li>' % (_esc(a['ip']), _esc(', '.join(a['hosts']))) for a in corr['shared_attackers']) \
        or '<li>No address tried to log in on more than one host.</li>'
    page = INDEX % {'rows': ''.join(rows) or '<tr><td colspan="5">No reports yet.</td></tr>', 'shared': shared,
                    'attackers': attackers, 'css': CSS, 'generated': _esc(iso(int(time.time()))), 'hosts': len(docs)}
    path = os.path.join(root, 'index.html')
    with open(path + '.tmp', 'w', encoding='utf-8') as handle:
        handle.write(page)
    os.replace(path + '.tmp', path)
    with open(os.path.join(root, 'correlation.json'), 'w', encoding='utf-8') as handle:
        json.dump(corr, handle, indent=1, sort_keys=True)
    return path, corr, docs


CSS = r"""
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2330;background:#f5f6f8}
header{background:#1d2330;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#c8cdd8;font-size:13px}main{padding:16px 24px;max-width:1200px}
h2{font-size:17px;margin:22px 0 8px}.verdict{font-size:17px;background:#fff;border-left:6px solid #1d2330;padding:10px 14px}
.finding{background:#fff;margin:10px 0;padding:10px 14px;border-left:6px solid #999;border-radius:3px}
.finding h3{margin:0 0 4px;font-size:16px}.meta{color:#667;font-size:12px;margin:0}.next{background:#f3f6fb;padding:6px 8px}
.refs{font-size:12px}.refs a{color:#2456a6}
.badge{display:inline-block;font-size:11px;font-weight:700;padding:1px 6px;border-radius:3px;color:#fff;background:#888}
.sev-critical{border-color:#8b0000}.sev-critical .badge{background:#8b0000}.sev-high{border-color:#d23c2a}.sev-high .badge{background:#d23c2a}
.sev-medium{border-color:#e08a00}.sev-medium .badge{background:#e08a00}.sev-low{border-color:#5a7fb8}.sev-low .badge{background:#5a7fb8}
.sev-info{border-color:#8aa}.sev-info .badge{background:#8aa}
table{border-collapse:collapse;background:#fff;width:100%;font-size:13px}td,th{border-bottom:1px solid #e3e5ea;padding:4px 8px;text-align:left}
.st-on td:nth-child(2){color:#1a7f37}.st-off td:nth-child(2),.st-missing td:nth-child(2),.st-volatile td:nth-child(2){color:#d23c2a;font-weight:600}
.chart{background:#fff;margin:8px 0;padding:6px 8px;position:relative}.chart h4{margin:0;font-size:13px;color:#334}
.chart svg{display:block;width:100%;height:auto;user-select:none}.legend span{font-size:12px;margin-right:10px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:3px;vertical-align:-1px}
#tip{position:fixed;pointer-events:none;background:#1d2330;color:#fff;font-size:12px;padding:5px 8px;border-radius:3px;
display:none;z-index:9;white-space:pre}
#appendix pre{white-space:pre-wrap;word-break:break-all;background:#fff;margin:2px 0 8px;padding:4px 6px;font-size:12px}
#appendix li:target pre{background:#fff6cc}#js-errors:empty{display:none}#js-errors{background:#fdd;padding:8px;color:#800}
.hint{color:#667;font-size:12px}
"""

JS = r"""
(function(){
var D=JSON.parse(document.getElementById('data').textContent),T=D.tl,M=T.minutes,tip=document.getElementById('tip');
var NS='http://www.w3.org/2000/svg';
function el(n,a,p){var e=document.createElementNS(NS,n);for(var k in a)e.setAttribute(k,a[k]);if(p)p.appendChild(e);return e;}
function hm(t){var d=new Date(t*1000);return d.toISOString().slice(0,16).replace('T',' ');}
function fmt(v){if(v==null)return '-';var a=Math.abs(v);return String(+v.toFixed(a>=100?0:(a>=10?1:2)));}
var charts=[],sel=null;
function chart(id,title,series,opt){
  opt=opt||{};var box=document.getElementById(id);if(!box)return;
  var h=document.createElement('h4');h.textContent=title;box.appendChild(h);
  var lg=document.createElement('div');lg.className='legend';box.appendChild(lg);
  series.concat(opt.marks||[]).forEach(function(s){var sp=document.createElement('span');var i=document.createElement('i');
i.style.background=s.c;if(s.row!=null)i.style.borderRadius='5px';sp.appendChild(i);sp.appendChild(document.createTextNode(s.n));
lg.appendChild(sp);});
  // events sit in a band of their own above the plot, one row each
  var band=opt.marks?opt.marks.length*7:0,W=1000,H=170+band,L=48,R=8,TP=10+band,B=22;
  var svg=el('svg',{viewBox:'0 0 '+W+' '+H,preserveAspectRatio:'none'},box);
  var max=opt.max||0;series.forEach(function(s){s.v.forEach(function(v){if(v!=null&&v>max)max=v;});});if(!max)max=1;
  var n=Math.max(M.length-1,1);function X(i){return L+(W-L-R)*i/n;}function Y(v){return TP+(H-TP-B)*(1-v/max);}
  [0,0.5,1].forEach(function(f){el('line',{x1:L,x2:W-R,y1:Y(max*f),y2:Y(max*f),stroke:'#e3e5ea'},svg);var t=el('text',
{x:L-4,y:Y(max*f)+4,'text-anchor':'end','font-size':10,fill:'#667'},svg);t.textContent=fmt(max*f);});
  var ticks=Math.min(6,M.length);for(var k=0;k<ticks;k++){var i=Math.round(k*(M.length-1)/Math.max(ticks-1,1));
var t=el('text',{x:X(i),y:H-6,'text-anchor':k==0?'start':(k==ticks-1?'end':'middle'),'font-size':10,fill:'#667'},
svg);t.textContent=hm(M[i]).slice(5)+(k==0?' UTC':'');}
  var drawn=0,lined=0;
  series.forEach(function(s){
    if(s.bar){var bw=Math.min(Math.max((W-L-R)/M.length-1,1),14);s.v.forEach(function(v,i){if(v){el('rect',{x:X(i)-bw/2,
y:Y(v),width:bw,height:Y(0)-Y(v),fill:s.c,opacity:0.8},svg);drawn++;}});return;}
    var d='',pen=false;s.v.forEach(function(v,i){if(v==null){pen=false;return;}d+=(pen?'L':'M')+X(i).toFixed(1)+' '+Y(v).toFixed(1);
pen=true;drawn++;lined++;
      // a sample with no neighbour makes no line: a dot shows it
      if(s.v[i-1]==null&&s.v[i+1]==null)el('circle',{cx:X(i),cy:Y(v),r:2.5,fill:s.c,'class':'lone'},svg);});
    if(d)el('path',{d:d,fill:'none',stroke:s.c,'stroke-width':1.6,'vector-effect':'non-scaling-stroke'},svg);
  });
  if(opt.marks)opt.marks.forEach(function(m){m.v.forEach(function(v,i){if(v){el('circle',{cx:X(i),cy:5+m.row*7,r:3,fill:m.c},svg);drawn++;}});});
  svg.setAttribute('data-points',drawn);box.setAttribute('data-drawn',drawn>0?'yes':'empty');
  var said=!drawn?'no data recorded for this chart':(!lined&&opt.empty)||'';
  if(said){var t=el('text',{x:W/2,y:TP+(H-TP-B)/2,'text-anchor':'middle','font-size':13,fill:'#999','class':'empty-note'},svg);t.textContent=said;}
  var guide=el('line',{y1:TP,y2:H-B,stroke:'#1d2330','stroke-dasharray':'3 3',visibility:'hidden'},svg);
  var brush=el('rect',{y:TP,height:H-TP-B,fill:'#2456a6',opacity:0.15,visibility:'hidden'},svg);
  function idx(ev){var r=svg.getBoundingClientRect();var x=(ev.clientX-r.left)*W/r.width;return Math.max(0,Math.min(M.length-1,
Math.round((x-L)/(W-L-R)*n)));}
  svg.addEventListener('mousemove',function(ev){var i=idx(ev);guide.setAttribute('x1',X(i));guide.setAttribute('x2',
X(i));guide.setAttribute('visibility','visible');
    var lines=[hm(M[i])+' UTC'];series.forEach(function(s){lines.push(s.n+': '+fmt(s.v[i]));});if(opt.marks)opt.marks.forEach(function(m){
if(m.v[i])lines.push(m.n+': '+m.v[i]);});
    tip.textContent=lines.join('\n');tip.style.display='block';tip.style.left=(ev.clientX+14)+'px';tip.style.top=(ev.clientY+10)+'px';
    if(sel&&sel.svg===svg){var a=Math.min(sel.i,i),b=Math.max(sel.i,i);brush.setAttribute('x',X(a));brush.setAttribute('width',
Math.max(X(b)-X(a),2));}});
  svg.addEventListener('mouseleave',function(){guide.setAttribute('visibility','hidden');tip.style.display='none';});
  if(opt.brush){svg.style.cursor='crosshair';
    svg.addEventListener('mousedown',function(ev){sel={svg:svg,i:idx(ev)};brush.setAttribute('visibility','visible');
brush.setAttribute('x',X(sel.i));brush.setAttribute('width',2);ev.preventDefault();});
    window.addEventListener('mouseup',function(ev){if(!sel||sel.svg!==svg)return;var i=idx(ev),a=Math.min(sel.i,
i),b=Math.max(sel.i,i);sel=null;rangeTable(M[a],M[b]+60);});}
  charts.push(svg);
}
function rangeTable(a,b){
  var agg={};D.procs.forEach(function(p){var s=p[0],e=p[1],span=Math.max(e-s,1),ov=Math.min(e,b)-Math.max(s,a);if(e<a||s>b)return;
    var part=p[2]*Math.max(Math.min(ov,span),0)/span;if(e>=a&&e<=b&&span<=1)part=p[2];var k=p[3]+'\u0000'+p[4];
    var g=agg[k]||(agg[k]={u:p[3],c:p[4],cpu:0,n:0,l:p[5]});g.cpu+=part;g.n++;});
  var rows=Object.keys(agg).map(function(k){return agg[k];}).filter(function(g){return g.cpu>0;}).sort(function(x,
y){return y.cpu-x.cpu;}).slice(0,40);
  var tb=document.getElementById('range-rows');tb.textContent='';
  document.getElementById('range-title').textContent='Processes that used the CPU from '+hm(a)+' to '+hm(b)+
    ' UTC ('+rows.length+' shown, ranked by CPU seconds)';

  rows.forEach(function(g){var tr=document.createElement('tr');[g.cpu.toFixed(2),g.u,g.c,g.n,g.l].forEach(function(v){
var td=document.createElement('td');td.textContent=v;tr.appendChild(td);});tb.appendChild(tr);});
  if(!rows.length){var tr=document.createElement('tr'),td=document.createElement('td');td.colSpan=5;
    td.textContent='No process accounting record in this range.';
tr.appendChild(td);tb.appendChild(tr);}
}
var S=T.series,E=T.events;
if(!M.length){document.getElementById('charts').textContent='No timeline: the bundle has no sysstat export and no dated events.';}
else{
chart('c-cpu','CPU % (drag to select a time range)',[{n:'user',c:'#2f6fd6',v:S.cpu_user},{n:'system',c:'#d23c2a',
v:S.cpu_system},{n:'iowait',c:'#e08a00',v:S.cpu_iowait},{n:'steal',c:'#7a3db8',v:S.cpu_steal}],
  {brush:true,max:100,empty:'no CPU sample from sysstat in this window (none yet on a new host; on an older one, '+
'sysstat was not recording)',marks:[{n:'SSH failures',c:'#d23c2a',row:0,v:E.ssh_fail},{n:'bans',c:'#1a7f37',row:1,v:E.ban},
{n:'accepted logins',c:'#2456a6',row:2,v:E.accepted},
  {n:'sudo',c:'#7a3db8',row:3,v:E.sudo},{n:'cron runs',c:'#888',row:4,v:E.cron},{n:'systemd units started',c:'#0a8',
row:5,v:E.unit},{n:'package runs',c:'#a60',row:6,v:E['package']},
  {n:'audit exec from temp dirs',c:'#000',row:7,v:E.audit_exec},{n:'processes ended',c:'#bbb',row:8,v:E.proc_end}]});
chart('c-events','Events per minute',[{n:'SSH failures',c:'#d23c2a',v:E.ssh_fail,bar:true},{n:'CPU s of processes that ended',
c:'#2f6fd6',v:T.proc_end_cpu},{n:'refused inbound packets (logged)',c:'#e08a00',v:E.denied,bar:true},
{n:'new outbound connections (logged)',c:'#1a7f37',v:E.conn_out}],
  {marks:[{n:'bans',c:'#1a7f37',row:0,v:E.ban},{n:'accepted logins',c:'#2456a6',row:1,v:E.accepted},{n:'sudo',c:'#7a3db8',
row:2,v:E.sudo},{n:'cron',c:'#888',row:3,v:E.cron},{n:'units',c:'#0a8',row:4,v:E.unit},{n:'packages',c:'#a60',row:5,
v:E['package']}]});
chart('c-load','Load (1 min) and run queue',[{n:'load 1 min',c:'#2f6fd6',v:S.load1},{n:'run queue',c:'#d23c2a',v:S.runq}]);
chart('c-mem','Memory used %',[{n:'memory used %',c:'#7a3db8',v:S.mem}],{max:100});
var pal=['#2f6fd6','#d23c2a','#1a7f37','#e08a00','#7a3db8','#0a8'];
T.ifaces.forEach(function(f,k){
  var box=document.createElement('div');box.className='chart';box.id='c-net-'+k;document.getElementById('charts').appendChild(box);
  chart(box.id,'Network '+f+': kB/s in and out',[{n:'in kB/s',c:pal[0],v:S['rx:'+f]},{n:'out kB/s',c:pal[1],v:S['tx:'+f]}]);
  var box2=document.createElement('div');box2.className='chart';box2.id='c-pk-'+k;document.getElementById('charts').appendChild(box2);
  chart(box2.id,'Network '+f+': packets/s in and out',[{n:'in packets/s',c:pal[2],v:S['rxp:'+f]},{n:'out packets/s',c:pal[3],v:S['txp:'+f]}]);
});
var b3=document.createElement('div');b3.className='chart';b3.id='c-tcp';document.getElementById('charts').appendChild(b3);
chart('c-tcp','TCP connections opened per second (out: by this host, in: to this host)',[{n:'opened by this host',
c:pal[1],v:S.tcp_out},{n:'opened to this host',c:pal[0],v:S.tcp_in}]);
var b4=document.createElement('div');b4.className='chart';b4.id='c-disk';document.getElementById('charts').appendChild(b4);
chart('c-disk','Disk kB/s read and written',[{n:'read kB/s',c:pal[2],v:S.disk_r},{n:'written kB/s',c:pal[4],v:S.disk_w}]);
rangeTable(M[0],M[M.length-1]+60);
}
document.body.setAttribute('data-charts',charts.length);
})();
"""

PAGE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>What happened on %(host)s</title><style>%(css)s</style>
<script>window.onerror=function(m,s,l,c){var e=document.getElementById('js-errors');if(e){e.textContent+='Error: '+m+' (line '+l+')\n';}};</script>
</head><body>
<header><h1>What happened on %(host)s</h1>
<p>Window %(since)s to %(until)s (all times UTC) &middot; bundle %(bundle)s &middot; SHA-256 %(sha)s verified &middot; report written %(generated)s</p>
</header>
<main><div id="js-errors"></div>
<p class="verdict">%(verdict)s <span class="hint">(%(counts)s)</span></p>
<h2>Findings, most serious first</h2>%(cards)s
<h2>Timeline (UTC, per minute)</h2>
<p class="hint">Hover a chart to read its values. Drag across the CPU chart to list the processes that used the CPU in that range (from process accounting).</p>
<div id="charts"><div class="chart" id="c-cpu"></div>
<div>
<h4 id="range-title">Processes</h4>
<table>
<thead>
<tr>
<th>CPU s</th>
<th>user</th>
<th>command</th>
<th>processes</th>
<th>label</th>
</tr>
</thead>
<tbody id="range-rows">
</tbody>
</table>
</div>
<div class="chart" id="c-events"></div><div class="chart" id="c-load"></div><div class="chart" id="c-mem"></div></div>
<h2>Recorders</h2><table><thead><tr><th>recorder</th><th>status</th><th>detail</th></tr></thead><tbody>%(recorders)s</tbody></table>
<h2>Evidence</h2><ol id="appendix">%(appendix)s</ol>
</main><div id="tip"></div>
<script type="application/json" id="data">%(data)s</script>
<script>%(js)s</script>
</body></html>
"""

INDEX = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Evidence reports: %(hosts)s host(s)</title><style>%(css)s</style></head><body>
<header><h1>Evidence reports: %(hosts)s host(s)</h1><p>Most serious first &middot; written %(generated)s (UTC)</p></header>
<main><table><thead><tr><th>host</th><th>worst</th><th>findings</th><th>first things to read</th><th>collected</th></tr></thead>
<tbody>%(rows)s</tbody></table>
<h2>CPU spikes at the same minute on several hosts (scheduled work, not an attack)</h2><ul>%(shared)s</ul>
<h2>Addresses that tried to log in on several hosts</h2><ul>%(attackers)s</ul>
</main></body></html>
"""
