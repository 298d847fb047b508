#!/usr/bin/env python3
"""Compares two apisonar builds on every recorded capture (and the README's main job): the
inventory (endpoints, hits, state, status codes, schema field paths with types and formats,
sensitive classes per location) and the alerts (kind, subtype, endpoint, client, count). Masks
and samples are left out (each store has its own mask key). For performance work: a faster build
must give the same answers.

    scripts/compare-builds.py OLD_BINARY NEW_BINARY
"""
import json, subprocess, sys, os, shutil, glob, tempfile
if len(sys.argv) != 3:
    sys.exit(__doc__)
old, new = sys.argv[1], sys.argv[2]
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
cap = lambda *p: sorted(glob.glob(os.path.join(root, 'captures', *p)))
jobs = [[f] for f in cap('apis', '*.pcap') + cap('security', '*.pcap') + cap('*.pcap*') + cap('tls', '*.pcap*')]
jobs.append(['--spec', os.path.join(root, 'captures/apis/fastapi-shop.openapi.json'),
             os.path.join(root, 'captures/security/vulnapi-attack.pcap'), os.path.join(root, 'captures/apis/fastapi-shop.pcap')])
scratch = tempfile.mkdtemp(prefix='apisonar-compare-')
def paths(schema, prefix=''):
    out = set()
    if not isinstance(schema, dict): return out
    t = schema.get('type')
    out.add((prefix, json.dumps(t, sort_keys=True), schema.get('format')))
    for k, v in (schema.get('properties') or {}).items():
        out |= paths(v, prefix + '.' + k)
    if 'items' in schema:
        out |= paths(schema['items'], prefix + '[]')
    return out
def run(binary, args, db):
    shutil.rmtree(db, ignore_errors=True)
    subprocess.run([binary, 'analyze', '--db', db] + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    inv = json.loads(subprocess.run([binary, 'inventory', '--db', db, '--format', 'json'], capture_output=True, check=True).stdout)
    al = json.loads(subprocess.run([binary, 'alerts', '--db', db, '--format', 'json'], capture_output=True, check=True).stdout)
    rows = {}
    for r in inv:
        key = (r['host'], r['method'], r['path'])
        rows[key] = {
            'hits': r['hits'], 'state': r['state'], 'status': r['status_codes'],
            'resp': {s: sorted(paths(v)) for s, v in (r.get('response_schemas') or {}).items()},
            'req': sorted(paths(r.get('request_schema'))),
            'sensitive': {loc: sorted(v['classes']) for loc, v in (r.get('sensitive') or {}).items()},
            'sensitive_counts': {loc: v['classes'] for loc, v in (r.get('sensitive') or {}).items()},
        }
    alerts = {}
    for a in al:
        key = (a.get('kind'), a.get('subtype'), a.get('host'), a.get('method'), a.get('path'), a.get('client'))
        alerts[key] = a.get('count')
    return rows, alerts
total_diff = 0
for args in jobs:
    name = ' '.join(os.path.basename(a) for a in args if not a.startswith('--'))
    try:
        r1, a1 = run(old, args, os.path.join(scratch, 'old'))
        r2, a2 = run(new, args, os.path.join(scratch, 'new'))
    except subprocess.CalledProcessError as e:
        # A build that fails where the other does not gives a different answer too.
        print(f'{name}: failed {e}'); total_diff += 1; continue
    diffs = []
    if set(r1) != set(r2):
        diffs.append(f'endpoints differ: only old {set(r1)-set(r2)}; only new {set(r2)-set(r1)}')
    counts = 0
    for k in set(r1) & set(r2):
        for f in ('hits', 'state', 'status', 'resp', 'req', 'sensitive'):
            if r1[k][f] != r2[k][f]:
                diffs.append(f'{k} {f}: {r1[k][f]} != {r2[k][f]}')
        if r1[k]['sensitive_counts'] != r2[k]['sensitive_counts']:
            counts += 1
    if set(a1) != set(a2):
        diffs.append(f'alerts differ: only old {sorted(set(a1)-set(a2))[:5]}; only new {sorted(set(a2)-set(a1))[:5]}')
    acounts = sum(1 for k in set(a1) & set(a2) if a1[k] != a2[k])
    print(f'{name}: {len(r1)} endpoints, {len(a1)} alerts; {len(diffs)} differences; sensitive counts differ on {counts} endpoints, alert counts on {acounts}')
    for d in diffs[:6]:
        print('   ', d[:400])
    total_diff += len(diffs)
shutil.rmtree(scratch, ignore_errors=True)
print('total differences', total_diff)
sys.exit(1 if total_diff else 0)
