"""Serve /srv/feeds over HTTPS with the certificate in /srv/tls/served.{crt,key}: the scenario's feed server."""
import functools
import http.server
import ssl

handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory="/srv/feeds")
server = http.server.ThreadingHTTPServer(("", 443), handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain("/srv/tls/served.crt", "/srv/tls/served.key")
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
