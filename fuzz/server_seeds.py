#!/usr/bin/env python3
"""Seeds for server_fuzz: one input per route, a body made from its schema
in docs/openapi.json and the caller its security names.

    build/fuzz/fuzz_seeds fuzz/corpus | fuzz/server_seeds.py fuzz/corpus/server docs/openapi.json

fuzz_seeds prints the route table (INDEX LISTENER METHOD PATH); the input
layout is server_fuzz.c's: route byte, caller byte, body."""
import json
import os
import sys

SIGNERS = ["sho1", "sho2", "ico", "vno", "ro", "pva", "ccif", "m2mes"]


def value(s):
    t = s.get("type")
    if "default" in s:
        return s["default"]
    if t == "integer":
        return s.get("minimum", 1)
    if t == "boolean":
        return True
    if t == "array":
        return [value(s.get("items", {}))]
    if t == "object":
        return {k: value(v) for k, v in s.get("properties", {}).items()}
    pat = s.get("pattern", "")
    if "0-9]{6,15}" in pat:
        return "001029999999999"
    if pat.startswith("^plat-"):
        return "plat-0123456789abcdef"
    if "enum" in s:
        return s["enum"][0]
    n = max(s.get("minLength", 1), 1)
    return ("e30.e30.e30" + "A" * n)[: max(n, 11)] if n >= 11 else "a" * n


def caller(op, operator):
    for sec in op.get("security") or []:
        if "signedRequest" in sec:
            who = sec["signedRequest"][0]
            if who in ("SHO", "OPERATOR"):
                who = operator if operator in SIGNERS else "sho1"
            return 2 + 4 * SIGNERS.index(who) if who in SIGNERS else 0
        if "subscriber" in sec:
            return 1 + 4 * (1 if operator == "sho2" else 0)
    return 0


def main():
    out, api = sys.argv[1], json.load(open(sys.argv[2]))
    os.makedirs(out, exist_ok=True)
    ops = {}
    for v in api["paths"].values():
        for m, o in v.items():
            if isinstance(o, dict) and "responses" in o:
                ops[(v["x-omc-role"], m.upper(), v["x-omc-path"])] = o
    for line in sys.stdin:
        idx, listener, method, path = line.split()
        role, _, operator = listener.partition(".")
        op = ops.get((role, method, path))
        if op is None:
            continue
        body = b""
        rb = op.get("requestBody", {}).get("content", {}).get("application/json")
        if rb:
            body = json.dumps(value(rb["schema"]), separators=(",", ":")).encode()
        name = "gen-%s-%s-%s%s" % (idx, listener, method, path.replace("/", "_"))
        with open(os.path.join(out, name), "wb") as f:
            f.write(bytes([int(idx), caller(op, operator)]) + body)


main()
