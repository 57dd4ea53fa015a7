#!/usr/bin/env bash
# Regenerates ecs-8.11-fields.tsv, the official ECS 8.11 field reference that
# the SIEM tests check every ECS field name against, from the npm package
# @elastic/ecs 8.11.5 (Elasticsearch B.V., Apache-2.0; its generated/ecs_flat.js
# is ECS's own ecs_flat.yml). Needs npm and node; run from anywhere.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && npm pack --silent @elastic/ecs@8.11.5 >/dev/null && tar xzf elastic-ecs-8.11.5.tgz)
cp "$TMP/package/LICENSE" "$HERE/ECS-LICENSE.txt"
cp "$TMP/package/NOTICE.txt" "$HERE/ECS-NOTICE.txt"
node - "$TMP/package/build/commonjs/ecs_flat.js" > "$HERE/ecs-8.11-fields.tsv" <<'JS'
const flat = require(process.argv[2]).EcsFlat;
const out = [
  '# The ECS 8.11 field reference: every field of ecs_flat.yml, as shipped in the',
  '# npm package @elastic/ecs 8.11.5 (generated/ecs_flat.js), Copyright Elasticsearch B.V.,',
  '# Apache License 2.0 (ECS-LICENSE.txt, ECS-NOTICE.txt). Made by vendor-ecs.sh: do not edit.',
  '# columns: flat_name, type, normalize (array or -), allowed values (value[:expected event types] ...)',
];
for (const name of Object.keys(flat).sort()) {
  const f = flat[name];
  const allowed = (f.allowed_values || [])
    .map(a => a.name + (a.expected_event_types ? ':' + a.expected_event_types.join('|') : ''))
    .join(' ');
  out.push([name, f.type, (f.normalize || []).includes('array') ? 'array' : '-', allowed || '-'].join('\t'));
}
console.log(out.join('\n'));
JS
