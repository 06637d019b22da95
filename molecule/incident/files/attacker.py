#!/usr/bin/env python3
"""The incident scenario's attacker, run inside its container. Every loop is bounded in count and time,
and every packet goes to the scenario's own network.

  attacker.py sweep PREFIX FIRST LAST          ICMP echo to PREFIX.FIRST .. PREFIX.LAST, one each
  attacker.py scan HOST FIRST LAST             TCP connect to each port, 0.3 s timeout
  attacker.py brute HOST KEY USER[,USER] N     N SSH logins with a key the host does not know
  attacker.py listen PORT OUTFILE SECONDS      receive one upload and write its size to OUTFILE
  attacker.py connect-from SRC HOST PORT       one TCP connection attempt from source address SRC
Prints one JSON line with what it did.
"""
import concurrent.futures
import json
import os
import socket
import struct
import subprocess
import sys
import time


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def sweep(prefix, first, last):
    sent, answered = [], []
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.getprotobyname("icmp"))
    sock.settimeout(0.3)
    for n in range(int(first), min(int(last), int(first) + 64) + 1):
        addr = "%s.%d" % (prefix, n)
        header = struct.pack("!BBHHH", 8, 0, 0, os.getpid() & 0xFFFF, n)
        payload = b"quietnode-incident"
        packet = struct.pack("!BBHHH", 8, 0, checksum(header + payload), os.getpid() & 0xFFFF, n) + payload
        sock.sendto(packet, (addr, 0))
        sent.append(addr)
        deadline = time.time() + 0.3
        while time.time() < deadline:
            try:
                data, peer = sock.recvfrom(2048)
            except socket.timeout:
                break
            if peer[0] == addr and data[20] == 0:
                answered.append(addr)
                break
    return {"sent": sent, "answered": answered}


def probe(host, port):
    s = socket.socket()
    s.settimeout(0.5)
    try:
        return port if s.connect_ex((host, port)) == 0 else None
    except OSError:
        return None
    finally:
        s.close()


def scan(host, first, last):
    # 16 at a time: a dropped port costs the whole timeout, so one at a time would take minutes.
    ports = list(range(int(first), min(int(last), int(first) + 2000) + 1))
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        opened = sorted(p for p in pool.map(lambda p: probe(host, p), ports) if p is not None)
    return {"host": host, "tried": len(ports), "open": opened}


def brute(host, key, users, count):
    results = []
    names = users.split(",")
    for i in range(min(int(count), 40)):
        user = names[i % len(names)]
        try:
            run = subprocess.run(
                ["ssh", "-i", key, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                 "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5", "-o", "IdentitiesOnly=yes",
                 "-o", "LogLevel=ERROR", "%s@%s" % (user, host), "true"],
                capture_output=True, text=True, timeout=30)
            results.append({"user": user, "rc": run.returncode, "err": run.stderr.strip()[-120:]})
        except subprocess.TimeoutExpired:
            # A ban that drops packets mid-handshake: the client would wait forever.
            results.append({"user": user, "rc": None, "err": "timeout"})
    return {"host": host, "attempts": results}


def listen(port, outfile, seconds):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", int(port)))
    srv.listen(1)
    srv.settimeout(float(seconds))
    total, peer = 0, None
    try:
        conn, peer = srv.accept()
        conn.settimeout(float(seconds))
        while True:
            chunk = conn.recv(1 << 16)
            if not chunk:
                break
            total += len(chunk)
        conn.close()
    except socket.timeout:
        pass
    result = {"port": int(port), "peer": peer[0] if peer else None, "bytes": total}
    with open(outfile, "w") as f:
        json.dump(result, f)
    return result


def connect_from(src, host, port):
    s = socket.socket()
    s.settimeout(3)
    s.bind((src, 0))
    try:
        rc = s.connect_ex((host, int(port)))
    except socket.timeout:
        rc = "timeout"
    finally:
        s.close()
    return {"src": src, "host": host, "port": int(port), "result": rc}


COMMANDS = {"sweep": sweep, "scan": scan, "brute": brute, "listen": listen, "connect-from": connect_from}

if __name__ == "__main__":
    start = time.time()
    out = COMMANDS[sys.argv[1]](*sys.argv[2:])
    out.update({"command": sys.argv[1], "start": start, "end": time.time()})
    print(json.dumps(out))
