#!/usr/bin/python3
"""Browses _troupe._tcp.local with python3-zeroconf, an mDNS / DNS-SD client
that troupe did not write, for the discovery system test.

usage: zeroconf_browse.py INTERFACE_IPV4 SECONDS

Prints one JSON object per line: {"event":"ready"} once browsing, then for
each instance added or updated {"event":"found","name":...,"instance":...,
"server":...,"addresses":[...],"port":N,"txt":{...}}, and for each removed
{"event":"removed","instance":...}. Ends after SECONDS, or at end of input.
"""

import json
import queue
import sys
import threading
import time

from zeroconf import IPVersion, ServiceBrowser, ServiceStateChange, Zeroconf

SERVICE = "_troupe._tcp.local."


def say(obj):
    print(json.dumps(obj, sort_keys=True, separators=(",", ":")), flush=True)


def main():
    interface, seconds = sys.argv[1], float(sys.argv[2])
    deadline = time.monotonic() + seconds
    changes = queue.Queue()
    zc = Zeroconf(interfaces=[interface], ip_version=IPVersion.V4Only)

    def on_change(zeroconf, service_type, name, state_change):
        # Runs on zeroconf's own thread: resolve on the main thread.
        changes.put((name, state_change))

    browser = ServiceBrowser(zc, SERVICE, handlers=[on_change])
    # End of input (the test closing our stdin) ends the browse early.
    threading.Thread(target=lambda: (sys.stdin.read(), changes.put(None)), daemon=True).start()
    say({"event": "ready"})
    try:
        while time.monotonic() < deadline:
            try:
                item = changes.get(timeout=max(0.05, min(0.5, deadline - time.monotonic())))
            except queue.Empty:
                continue
            if item is None:
                break
            name, change = item
            instance = name[: -len(SERVICE) - 1] if name.endswith("." + SERVICE) else name
            if change == ServiceStateChange.Removed:
                say({"event": "removed", "instance": instance})
                continue
            info = zc.get_service_info(SERVICE, name, timeout=3000)
            if info is None:
                say({"event": "unresolved", "instance": instance})
                continue
            txt = {}
            for key, value in (info.properties or {}).items():
                txt[key.decode("utf-8", "replace")] = (
                    value.decode("utf-8", "replace") if value is not None else None
                )
            say(
                {
                    "event": "found",
                    "name": name,
                    "instance": instance,
                    "server": info.server,
                    "addresses": info.parsed_addresses(),
                    "port": info.port,
                    "txt": txt,
                }
            )
    finally:
        browser.cancel()
        zc.close()


if __name__ == "__main__":
    main()
