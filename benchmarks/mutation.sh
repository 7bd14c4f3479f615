#!/usr/bin/env bash
# Mutation testing of the core arithmetic (not in CI; see benchmarks/mutation.md).
# Which files are mutated and which tests run against each mutant: [tool.mutmut] in
# pyproject.toml. Results stay in mutants/ (git-ignored); `mutmut results` lists them again.
# Arguments, if any, are mutant name patterns: only those run, e.g.
#   bash benchmarks/mutation.sh "optimizer.score.problem*"     (one module, about 10 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
MUTMUT_VERSION=3.8.1
if ! .venv/bin/python -c "import mutmut, sys; sys.exit(mutmut.__version__ != '$MUTMUT_VERSION')" \
    2>/dev/null; then
  .venv/bin/pip install --quiet "mutmut==$MUTMUT_VERSION"
fi
rm -rf mutants
.venv/bin/mutmut run --max-children "${JOBS:-1}" "$@"
.venv/bin/mutmut results --all true > mutants/results.txt || true
grep -c ": survived" mutants/results.txt || true
