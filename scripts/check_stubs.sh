#!/usr/bin/env bash
# Generate the Go and Java stubs of proto/ with buf (buf.gen.yaml) and check that every
# file, service and message came out where the protos' go_package / java_* options say,
# so those options stay valid for the polyglot teams. Run by `make stubs` (part of
# `make test`). The plugins come from Debian; as root, missing ones are installed.
# STUBS_OUT=DIR keeps the generated code in DIR (default: a temporary directory).
set -euo pipefail
cd "$(dirname "$0")/.."

BUF=node_modules/.bin/buf
TOOLS=(protoc protoc-gen-go protoc-gen-go-grpc grpc_java_plugin)
PACKAGES=(protobuf-compiler protoc-gen-go protoc-gen-go-grpc protobuf-compiler-grpc-java-plugin)
# The buyer-facing contract and the southbound one (README "The southbound contract").
PROTO_DIRS=(proto/mef/lso/interlude/v1 proto/interlude/network/v1)

missing=()
for tool in "${TOOLS[@]}"; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if ((${#missing[@]})); then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    echo "stubs: installing ${PACKAGES[*]} (missing: ${missing[*]})"
    export DEBIAN_FRONTEND=noninteractive
    install=(apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}")
    "${install[@]}" >/dev/null 2>&1 || { apt-get update -qq && "${install[@]}" >/dev/null; }
  else
    echo "stubs: missing ${missing[*]}: install the Debian packages ${PACKAGES[*]}," \
      "or skip this check with 'make test STUBS=skip'" >&2
    exit 1
  fi
fi

out=${STUBS_OUT:-$(mktemp -d)}
[[ -n ${STUBS_OUT:-} ]] || trap 'rm -rf "$out"' EXIT
"$BUF" generate --template buf.gen.yaml -o "$out"

problems=0
expect() {  # expect FILE [PATTERN]: FILE exists (and contains PATTERN)
  if [[ ! -f $1 ]] || { [[ -n ${2:-} ]] && ! grep -q -- "$2" "$1"; }; then
    echo "stubs: missing ${1#"$out"/}${2:+ containing '$2'}" >&2
    problems=$((problems + 1))
  fi
}
option() { sed -n "s/^option $1 = \"\(.*\)\";/\1/p" "$2"; }

files=0 services=0 messages=0
for proto in $(for d in "${PROTO_DIRS[@]}"; do echo "$d"/*.proto; done); do
  name=$(basename "$proto" .proto)
  dir=$(dirname "${proto#proto/}")
  go_package=$(option go_package "$proto")
  java_dir="$out/java/$(option java_package "$proto" | tr . /)"
  go_file="$out/go/$dir/$name"
  expect "$go_file.pb.go" "^package ${go_package##*;}$"
  expect "$java_dir/$(option java_outer_classname "$proto").java"
  files=$((files + 1))
  for service in $(sed -n 's/^service \([A-Za-z0-9]*\) {.*/\1/p' "$proto"); do
    expect "$go_file"_grpc.pb.go "type ${service}Client interface"
    expect "$java_dir/${service}Grpc.java" "class ${service}Grpc"
    services=$((services + 1))
  done
  for message in $(sed -n 's/^message \([A-Za-z0-9]*\) {.*/\1/p' "$proto"); do
    expect "$java_dir/$message.java" "class $message "
    messages=$((messages + 1))
  done
done
if ((problems)); then
  echo "stubs: $problems problem(s) in the Go/Java stubs" >&2
  exit 1
fi
echo "stubs: Go and Java generated and checked: $files files, $services services, $messages messages"
