#!/usr/bin/env bash
# Mint a kubeconfig for meshcheck's grader ServiceAccount, with a token that expires by itself.
#
#   ci/mint-kubeconfig.sh [--duration=2h] [--output=meshcheck-grader.kubeconfig] [--force]
#                         [--namespace=meshcheck] [--service-account=meshcheck-grader]
#                         [--context=ADMIN-CONTEXT] [--server=URL] [--certificate-authority=FILE]
#
# Run it as the cluster's admin (your current kubeconfig context, or --context), after
# 'kubectl apply -f manifests/grader/grader.yaml'. It asks the API server for a token of the
# ServiceAccount through the TokenRequest API ('kubectl create token ... --duration'), and writes a
# kubeconfig (mode 0600) holding that token, the API server's address and its certificate authority:
# nothing of the admin's credentials. The token is never printed. It expires after --duration (the API
# server may cap it: --service-account-max-token-expiration); mint another for the next grading.
# See docs/grader.md.
set -euo pipefail

namespace=meshcheck
account=meshcheck-grader
duration=2h
output=meshcheck-grader.kubeconfig
force=false
context=
server=
ca_file=

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }
die() { echo "mint-kubeconfig: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  option=$1
  case $option in
    -h | --help) usage; exit 0 ;;
    --force) force=true; shift; continue ;;
    --*=*) value=${option#*=}; option=${option%%=*}; shift ;;
    --*) [ $# -ge 2 ] || die "$option needs a value"; value=$2; shift 2 ;;
    *) die "unexpected argument $option (see --help)" ;;
  esac
  case $option in
    --namespace) namespace=$value ;;
    --service-account) account=$value ;;
    --duration) duration=$value ;;
    --output) output=$value ;;
    --context) context=$value ;;
    --server) server=$value ;;
    --certificate-authority) ca_file=$value ;;
    *) die "unknown option $option (see --help)" ;;
  esac
done

command -v kubectl >/dev/null || die "kubectl is not on PATH (https://kubernetes.io/docs/tasks/tools/)"
if [ -e "$output" ] && [ "$force" != true ]; then
  die "$output exists: choose another --output, or pass --force to replace it"
fi

admin=(kubectl)
if [ -n "$context" ]; then admin+=("--context=$context"); fi
admin_cluster() { "${admin[@]}" config view --minify --raw --flatten "--output=jsonpath={.clusters[0].$1}"; }

umask 077
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Where the API server is, and the authority that signed its certificate: the admin context's, unless given.
server=${server:-$(admin_cluster cluster.server)}
[ -n "$server" ] || die "the admin context names no server: pass --server=https://..."
cluster=$(admin_cluster name)
cluster=${cluster:-meshcheck}
if [ -n "$ca_file" ]; then
  [ -r "$ca_file" ] || die "cannot read --certificate-authority=$ca_file"
  cp "$ca_file" "$work/ca.crt"
else
  ca_data=$(admin_cluster cluster.certificate-authority-data)
  if [ -n "$ca_data" ]; then
    printf '%s' "$ca_data" | base64 --decode >"$work/ca.crt"
  else # the authority every namespace is given (Kubernetes 1.20+), when the admin's kubeconfig names none
    "${admin[@]}" get configmap kube-root-ca.crt "--namespace=$namespace" '--output=jsonpath={.data.ca\.crt}' \
      >"$work/ca.crt" || true
  fi
fi
[ -s "$work/ca.crt" ] || die "no certificate authority for $server: pass --certificate-authority=FILE"

# The token: asked for, held in a variable, handed to kubectl once, never echoed.
token=$("${admin[@]}" create token "$account" "--namespace=$namespace" "--duration=$duration") ||
  die "kubectl create token $account --namespace=$namespace failed (is manifests/grader/grader.yaml applied?)"
[ -n "$token" ] || die "kubectl create token $account returned no token"

minted=(kubectl "--kubeconfig=$work/kubeconfig")
"${minted[@]}" config set-cluster "$cluster" "--server=$server" "--certificate-authority=$work/ca.crt" \
  --embed-certs=true >/dev/null
"${minted[@]}" config set-credentials "$account" "--token=$token" >/dev/null
unset token
"${minted[@]}" config set-context "$account" "--cluster=$cluster" "--user=$account" "--namespace=$namespace" \
  >/dev/null
"${minted[@]}" config use-context "$account" >/dev/null
chmod 600 "$work/kubeconfig"
mv -f "$work/kubeconfig" "$output"

echo "mint-kubeconfig: wrote $output: ServiceAccount $namespace/$account at $server, valid for up to $duration"
echo "mint-kubeconfig: run the suite with it: pytest --kubeconfig=$output"
