#!/usr/bin/env bash
# Create the system users of a class for the hub (run as root):
#
#     deploy/jupyterhub/tools/add_learners.sh CLASS_LIST [--group mktme-learners] [--passwords FILE]
#
# CLASS_LIST: one user name per line (blank lines and "# comments" ignored); a name is 1-32 of
# a-z 0-9 _ - starting with a letter or _ (what useradd accepts everywhere). Each new user gets a
# home (mode 0700: no learner can read another's), a login shell, and membership of the group
# (created if missing), which is what the hub lets in. An existing user is only added to the group.
# New users get a random password, written with their name to FILE (default
# ./mktme-passwords.csv, mode 0600) to hand out; existing users keep theirs.
# Remove a class: deploy/jupyterhub/tools/add_learners.sh CLASS_LIST --remove  (deletes the homes!)
set -euo pipefail

usage() { echo "usage: $0 CLASS_LIST [--group NAME] [--passwords FILE] [--remove]" >&2; exit 2; }
[ $# -ge 1 ] || usage
LIST="$1"; shift
GROUP=mktme-learners
PASSWORDS=./mktme-passwords.csv
REMOVE=false
while [ $# -gt 0 ]; do
  case "$1" in
    --group) [ $# -ge 2 ] || usage; GROUP="$2"; shift 2 ;;
    --passwords) [ $# -ge 2 ] || usage; PASSWORDS="$2"; shift 2 ;;
    --remove) REMOVE=true; shift ;;
    *) echo "add_learners.sh: unknown argument '$1'" >&2; usage ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "add_learners.sh: must run as root (it runs useradd)" >&2; exit 1; }
[ -f "$LIST" ] || { echo "add_learners.sh: no class list at '$LIST' (a file, one user name per line)" >&2; exit 1; }

names=()
bad=0
lineno=0
while IFS= read -r line || [ -n "$line" ]; do
  lineno=$((lineno + 1))
  name="${line%%#*}"; name="$(echo "$name" | tr -d '[:space:]')"
  [ -n "$name" ] || continue
  if [[ ! "$name" =~ ^[a-z_][a-z0-9_-]{0,31}$ ]]; then
    echo "add_learners.sh: $LIST line $lineno: '$name' is not a user name (1-32 of a-z 0-9 _ -, starting with a letter or _)" >&2
    bad=1
  elif [ "$name" = root ] || { id -u "$name" >/dev/null 2>&1 && [ "$(id -u "$name")" -lt 1000 ]; }; then
    echo "add_learners.sh: $LIST line $lineno: '$name' is a system account (uid < 1000); not a learner" >&2
    bad=1
  else
    names+=("$name")
  fi
done < "$LIST"
[ "$bad" = 0 ] || exit 1
[ "${#names[@]}" -gt 0 ] || { echo "add_learners.sh: $LIST names no user" >&2; exit 1; }

if $REMOVE; then
  for name in "${names[@]}"; do
    if id -u "$name" >/dev/null 2>&1; then
      pkill -u "$name" 2>/dev/null || true   # this user's processes only
      userdel -r "$name" 2>/dev/null || userdel "$name"
      echo "removed $name"
    fi
  done
  exit 0
fi

getent group "$GROUP" >/dev/null || groupadd "$GROUP"
umask 077
new=0
for name in "${names[@]}"; do
  if id -u "$name" >/dev/null 2>&1; then
    usermod -a -G "$GROUP" "$name"
    echo "$name exists: added to $GROUP"
  else
    useradd --create-home --shell /bin/bash --groups "$GROUP" "$name"
    password="$(head -c 12 /dev/urandom | base64 | tr -d '/+=' | head -c 14)"
    echo "$name:$password" | chpasswd
    [ "$new" -gt 0 ] || [ -s "$PASSWORDS" ] || echo "user,password" > "$PASSWORDS"
    echo "$name,$password" >> "$PASSWORDS"
    new=$((new + 1))
    echo "$name created (in $GROUP)"
  fi
  chmod 0700 "$(getent passwd "$name" | cut -d: -f6)"
done
[ "$new" = 0 ] || echo "add_learners.sh: $new new passwords in $PASSWORDS (mode 0600): hand them out, then delete it"
