#!/usr/bin/env bash
# Installs the independent implementations that the SIEM output tests
# (crates/sshtrail-cli/tests/siem.rs, issue #5) check `sshtrail convert`
# against, into the python3 that the tests run:
#   ocsf-json-schema  the OCSF schema exports (1.0.0 to 1.8.0) and a JSON
#                     Schema generator for each class (MIT; schema Apache-2.0)
#   jsonschema        validates the records against those JSON Schemas
#   cefp              an escape-aware CEF tokenizer (BSD-2)
#   pycef             a widely used regex CEF parser (MIT)
# and jsonschema's own dependencies, pinned too.
# The ECS field reference needs no install: it is vendored in
# testdata/siem/ (see testdata/siem/README.md).
set -euo pipefail
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
  'ocsf-json-schema==1.2.0' \
  'jsonschema==4.26.0' \
  'cefp==0.0.2' \
  'pycef==1.11' \
  'attrs==26.1.0' \
  'jsonschema-specifications==2025.9.1' \
  'referencing==0.37.0' \
  'rpds-py==0.30.0' \
  'typing_extensions==4.15.0'
python3 -c 'import ocsf_json_schema, jsonschema, cefp, pycef' \
  || { echo ".ci/siem-deps.sh: the SIEM validators did not import" >&2; exit 1; }
