"""A stand-in Gravatar for the benchmarks: every /avatar/{hash} answers 200 with one PNG."""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PNG = open(sys.argv[2], "rb").read()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if not self.path.startswith("/avatar/"):
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(PNG)))
        self.end_headers()
        self.wfile.write(PNG)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
