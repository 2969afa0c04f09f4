#!/usr/bin/env bash
# `make messages`: fold the translations waiting in locale/pending/ into the catalogues,
# re-extract every string, compile. Needs GNU gettext.
#
# locale/pending/<topic>.<domain>.<lang>.po (domain: django or djangojs; lang: ru or pl) hold
# the translations a branch adds. They win over what the catalogue holds, so a conflict in
# locale/<lang>/ is resolved by taking main's catalogue and running this again.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
for lang in ru pl; do
  for domain in django djangojs; do
    po="locale/$lang/LC_MESSAGES/$domain.po"
    shopt -s nullglob
    pending=(locale/pending/*."$domain.$lang".po)
    shopt -u nullglob
    if [ ${#pending[@]} -gt 0 ] && [ -f "$po" ]; then
      msgcat --use-first "${pending[@]}" "$po" -o "$po.tmp"
      mv "$po.tmp" "$po"
    fi
  done
done
$PY manage.py makemessages -l ru -l pl --no-obsolete --add-location file --ignore '.venv/*' --ignore 'bench/*' --ignore 'locale/*' >/dev/null
$PY manage.py makemessages -l ru -l pl --no-obsolete --add-location file -d djangojs --ignore '.venv/*' --ignore 'staticfiles/*' --ignore 'bench/*' >/dev/null
$PY manage.py compilemessages --ignore '.venv/*' >/dev/null
# A string still untranslated is a bug: list them.
for lang in ru pl; do
  for domain in django djangojs; do
    po="locale/$lang/LC_MESSAGES/$domain.po"
    [ -f "$po" ] || continue
    missing=$(msgattrib --untranslated --no-obsolete "$po" | grep -c '^msgid ' || true)
    fuzzy=$(msgattrib --only-fuzzy --no-obsolete "$po" | grep -c '^msgid ' || true)
    [ "$missing" -gt 1 ] && echo "$po: $((missing - 1)) untranslated" >&2
    [ "$fuzzy" -gt 1 ] && echo "$po: $((fuzzy - 1)) fuzzy (not compiled)" >&2
  done
done
exit 0
