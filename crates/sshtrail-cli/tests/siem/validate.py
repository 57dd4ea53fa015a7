#!/usr/bin/env python3
"""Checks `sshtrail convert --to ecs|ocsf|cef|hec` output with independent
implementations (installed by .ci/siem-deps.sh):

  validate.py ecs  RECORDS FIELDS_TSV   every field name is in the official ECS
                                        field reference (or under sshtrail.*),
                                        with a value of its type; categorization
                                        values are allowed, and each event.type
                                        is one ECS expects for the category
  validate.py ocsf RECORDS VERSION      every event validates against the OCSF
                                        JSON schema of its class and profiles
                                        (ocsf-json-schema + jsonschema), and
                                        claims VERSION; the "ok" line counts
                                        the events of each class_uid validated
                                        (e.g. "classes 1001:40 4007:30")
  validate.py cef  RECORDS [EXPECT]     every line parses with two CEF parsers
                                        (cefp, pycef) into 8 header fields; with
                                        EXPECT (a JSON list, one object a line:
                                        {"header": [...], "extension": {k: v}}),
                                        the parsed values equal the originals
  validate.py hec  RECORDS              concatenated envelopes parse one after
                                        another, each with time, source,
                                        sourcetype and an event object

Prints one line per failure and exits 1 when there was any; prints
"ok: N records" otherwise. Exit 3 when a validator is not installed.
"""
import ipaddress
import json
import re
import sys

DEPS = "install the SIEM validators with .ci/siem-deps.sh"


def need(module):
    try:
        return __import__(module)
    except ImportError as e:
        print("validator missing: %s (%s): %s" % (module, e, DEPS))
        sys.exit(3)


def lines(path):
    with open(path, encoding="utf-8", newline="") as f:
        text = f.read()
    if not text:
        return []
    if not text.endswith("\n"):
        raise SystemExit("%s: the output does not end with a line feed" % path)
    return text[:-1].split("\n")


# ---------------------------------------------------------------- ECS

def load_ecs(path):
    fields = {}
    for row in open(path, encoding="utf-8"):
        if row.startswith("#") or not row.strip():
            continue
        name, typ, norm, allowed = row.rstrip("\n").split("\t")
        values = {}
        if allowed != "-":
            for a in allowed.split(" "):
                v, _, exp = a.partition(":")
                values[v] = set(exp.split("|")) if exp else None
        fields[name] = (typ, norm == "array", values)
    return fields


def flatten(obj, prefix, out):
    for k, v in obj.items():
        path = prefix + k
        if isinstance(v, dict):
            flatten(v, path + ".", out)
        else:
            out.append((path, v))


def ecs_type_ok(typ, v):
    if typ in ("keyword", "constant_keyword", "wildcard", "match_only_text", "text", "flattened"):
        return isinstance(v, str)
    if typ in ("long", "integer", "short", "byte", "unsigned_long"):
        return isinstance(v, int) and not isinstance(v, bool)
    if typ in ("float", "scaled_float", "double", "half_float"):
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if typ == "boolean":
        return isinstance(v, bool)
    if typ == "date":
        return isinstance(v, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z", v) is not None
    if typ == "ip":
        try:
            ipaddress.ip_address(v)
            return True
        except (ValueError, TypeError):
            return False
    return False


def check_ecs(records, fields_path):
    fields = load_ecs(fields_path)
    errors = []
    for i, line in enumerate(records, 1):
        doc = json.loads(line)
        flat = []
        flatten(doc, "", flat)
        for path, value in flat:
            if path.startswith("sshtrail."):
                continue
            if path not in fields:
                errors.append("record %d: %s is not an ECS 8.11 field (and not under sshtrail.*)" % (i, path))
                continue
            typ, is_array, _ = fields[path]
            values = value if isinstance(value, list) else [value]
            if isinstance(value, list) and not is_array and typ != "object":
                errors.append("record %d: %s is an array but ECS defines a single %s" % (i, path, typ))
            for v in values:
                if typ in ("object", "nested") and isinstance(v, dict):
                    for sub, sv in v.items():
                        if path + "." + sub not in fields:
                            errors.append("record %d: %s.%s is not an ECS field" % (i, path, sub))
                        elif not ecs_type_ok(fields[path + "." + sub][0], sv):
                            errors.append("record %d: %s.%s=%r is not a %s" % (i, path, sub, sv, fields[path + "." + sub][0]))
                elif not ecs_type_ok(typ, v):
                    errors.append("record %d: %s=%r is not a %s" % (i, path, v, typ))
        ev = doc.get("event", {})
        for f in ("kind", "category", "type", "outcome"):
            allowed = fields["event." + f][2]
            got = ev.get(f)
            for v in (got if isinstance(got, list) else [got]):
                if v not in allowed:
                    errors.append("record %d: event.%s=%r is not an allowed value" % (i, f, v))
        for cat in ev.get("category", []):
            expected = fields["event.category"][2].get(cat) or set()
            for t in ev.get("type", []):
                if t not in expected:
                    errors.append("record %d: event.type %r is not expected with event.category %r" % (i, t, cat))
        for required in ("@timestamp", "ecs", "event", "message"):
            if required not in doc:
                errors.append("record %d: no %s" % (i, required))
        if doc.get("ecs", {}).get("version", "").split(".")[:2] != ["8", "11"]:
            errors.append("record %d: ecs.version %r is not 8.11.x" % (i, doc.get("ecs")))
    return errors


# ---------------------------------------------------------------- OCSF

def check_ocsf(records, version):
    ocsf = need("ocsf_json_schema")
    jsonschema = need("jsonschema")
    embedded = ocsf.OcsfJsonSchemaEmbedded(ocsf.get_ocsf_schema(version=version))
    cache = {}
    errors = []
    classes = {}
    for i, line in enumerate(records, 1):
        ev = json.loads(line)
        meta = ev.get("metadata", {})
        if meta.get("version") != version:
            errors.append("record %d: metadata.version %r, expected %s" % (i, meta.get("version"), version))
            continue
        try:
            name = embedded.lookup_class_name_from_uid(ev.get("class_uid"))
        except ValueError as e:
            errors.append("record %d: %s" % (i, e))
            continue
        profiles = tuple(sorted(meta.get("profiles", [])))
        key = (name, profiles)
        if key not in cache:
            schema = embedded.get_class_schema(name, list(profiles))
            cls = jsonschema.validators.validator_for(schema)
            cls.check_schema(schema)
            cache[key] = cls(schema, format_checker=cls.FORMAT_CHECKER)
        classes[ev["class_uid"]] = classes.get(ev["class_uid"], 0) + 1
        for err in sorted(cache[key].iter_errors(ev), key=lambda e: list(e.absolute_path)):
            where = "/".join(str(p) for p in err.absolute_path) or "(root)"
            errors.append("record %d (%s): %s: %s" % (i, name, where, err.message))
        if ev.get("type_uid") != ev.get("class_uid", 0) * 100 + ev.get("activity_id", -1):
            errors.append("record %d: type_uid %r is not class_uid*100+activity_id" % (i, ev.get("type_uid")))
    return errors, classes


# ---------------------------------------------------------------- CEF

def unescape_extension(v):
    # The CEF specification's extension escapes, for pycef (which keeps them).
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "r": "\r"}.get(m.group(1), m.group(1)), v)


def check_cef(records, expect_path):
    cefp = need("cefp")
    pycef = need("pycef")
    expect = None
    if expect_path:
        expect = json.load(open(expect_path, encoding="utf-8"))
        if len(expect) != len(records):
            return ["%d CEF lines but %d expected" % (len(records), len(expect))]
    errors = []
    for i, line in enumerate(records, 1):
        if not line.startswith("CEF:0|"):
            errors.append("line %d: does not start with CEF:0|" % i)
            continue
        try:
            a = cefp.parse(line)
        except ValueError as e:
            errors.append("line %d: cefp: %s" % (i, e))
            continue
        header = [a["device"]["vendor"], a["device"]["product"], a["device"]["version"],
                  a["device"]["event_class_id"], a["name"], a["severity"]]
        ext = a["extension"]
        if not re.fullmatch(r"\d|10", a["severity"]):
            errors.append("line %d: severity %r is not 0-10" % (i, a["severity"]))
        # pycef cannot read a header with a backslash or '=' (its regex),
        # so it checks the lines whose header has none.
        if not any(re.search(r"[\\=|]", h) for h in header):
            b = pycef.parse(line)
            if b is None:
                errors.append("line %d: pycef could not parse it" % i)
            else:
                if [b["DeviceVendor"], b["DeviceProduct"], b["DeviceVersion"], b["DeviceEventClassID"],
                        b["Name"], b["Severity"]] != header:
                    errors.append("line %d: pycef and cefp read different headers" % i)
                # pycef replaces csN/csNLabel pairs by label=value.
                labelled = {}
                for k, v in ext.items():
                    if k.endswith("Label"):
                        continue
                    label = ext.get(k + "Label")
                    labelled[label if label else k] = v
                got = {k: unescape_extension(v) for k, v in b.items()
                       if k not in ("DeviceVendor", "DeviceProduct", "DeviceVersion", "DeviceEventClassID",
                                    "Name", "DeviceName", "Severity", "DeviceSeverity", "CEFVersion")}
                if got != labelled:
                    diff = sorted(set(got.items()) ^ set(labelled.items()))
                    errors.append("line %d: pycef and cefp read different extensions: %r" % (i, diff[:4]))
        if expect is not None:
            want = expect[i - 1]
            if header != want["header"]:
                errors.append("line %d: header %r, expected %r" % (i, header, want["header"]))
            if ext != want["extension"]:
                diff = sorted(set(ext.items()) ^ set(want["extension"].items()))
                errors.append("line %d: extension differs from the original values: %r" % (i, diff[:4]))
    return errors


# ---------------------------------------------------------------- HEC

def check_hec(path):
    text = open(path, encoding="utf-8").read()
    dec = json.JSONDecoder()
    errors = []
    pos, n = 0, 0
    while True:
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        if pos == len(text):
            break
        try:
            env, pos = dec.raw_decode(text, pos)
        except ValueError as e:
            errors.append("envelope %d: %s" % (n + 1, e))
            break
        n += 1
        if not isinstance(env, dict):
            errors.append("envelope %d: not an object" % n)
            continue
        extra = set(env) - {"time", "host", "source", "sourcetype", "index", "event", "fields"}
        if extra:
            errors.append("envelope %d: keys HEC does not know: %s" % (n, sorted(extra)))
        t = env.get("time")
        if not isinstance(t, (int, float)) or isinstance(t, bool):
            errors.append("envelope %d: time %r is not epoch seconds" % (n, t))
        for k in ("source", "sourcetype"):
            if not isinstance(env.get(k), str) or not env.get(k):
                errors.append("envelope %d: no %s" % (n, k))
        if "host" in env and not isinstance(env["host"], str):
            errors.append("envelope %d: host is not a string" % n)
        if not isinstance(env.get("event"), dict) or not env["event"]:
            errors.append("envelope %d: event is not an object" % n)
    return errors, n


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    kind, path = sys.argv[1], sys.argv[2]
    counted = ""
    if kind == "hec":
        errors, n = check_hec(path)
    else:
        records = lines(path)
        n = len(records)
        if kind == "ecs":
            errors = check_ecs(records, sys.argv[3])
        elif kind == "ocsf":
            errors, classes = check_ocsf(records, sys.argv[3])
            counted = " (classes %s)" % " ".join("%d:%d" % c for c in sorted(classes.items()))
        elif kind == "cef":
            errors = check_cef(records, sys.argv[3] if len(sys.argv) > 3 else None)
        else:
            raise SystemExit("unknown kind %s" % kind)
    if n == 0:
        errors.append("no records")
    for e in errors[:50]:
        print(e if len(e) <= 400 else e[:400] + "...")
    if len(errors) > 50:
        print("... and %d more" % (len(errors) - 50))
    if errors:
        sys.exit(1)
    print("ok: %d records%s" % (n, counted))


if __name__ == "__main__":
    main()
