#!/bin/sh
# Writes the git-ignored secrets.env files that kustomize's secretGenerators read, each with
# fresh random values:
#
#   base/app/secrets.env                       the lab's instructor, admin and control tokens and
#                                              PostgreSQL password (k8s/base)
#   base/observability/secrets.env             Grafana's admin password
#   overlays/workshop/learners/*/secrets.env   one set per learner, so no learner holds another's
#
# Usage: k8s/make-secrets.sh [--force] [K8S_DIR]
# An existing file is kept (PostgreSQL keeps the password it was first started with) unless
# --force is given; a key it lacks is added. K8S_DIR defaults to the folder of this script.
# Run it again after generate-learners.sh to give new learners their secrets.
set -eu

force=false
if [ "${1:-}" = "--force" ]; then
    force=true
    shift
fi
[ $# -le 1 ] || { echo "usage: $0 [--force] [K8S_DIR]" >&2; exit 2; }
dir=${1:-$(dirname -- "$0")}
[ -d "$dir/base/app" ] || { echo "$dir does not look like the k8s folder (no base/app)" >&2; exit 2; }

# Hex only: the PostgreSQL password goes into a URL.
random() {
    od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'
}

write() {
    # $1 file; the rest: KEY:BYTES pairs
    file=$1
    shift
    if [ -e "$file" ] && [ "$force" = false ]; then
        # Kept, with any key a newer lab needs added (control-token came with dojo deploy).
        umask 077
        for pair in "$@"; do
            if ! grep -q "^${pair%%:*}=" "$file"; then
                echo "${pair%%:*}=$(random "${pair##*:}")" >> "$file"
                echo "added   ${pair%%:*} to $file"
            fi
        done
        echo "kept    $file"
        return
    fi
    umask 077
    : > "$file"
    for pair in "$@"; do
        echo "${pair%%:*}=$(random "${pair##*:}")" >> "$file"
    done
    echo "wrote   $file"
}

app_secrets() {
    write "$1/secrets.env" instructor-token:24 admin-token:24 control-token:24 postgres-password:16
}

app_secrets "$dir/base/app"
write "$dir/base/observability/secrets.env" admin-password:16
for learner in "$dir"/overlays/workshop/learners/*/; do
    [ -f "$learner/kustomization.yaml" ] || continue
    app_secrets "${learner%/}"
done
