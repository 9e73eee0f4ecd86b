#!/bin/sh
# The compose `models` service: download the models into the cache volumes once, then exit.
#
# A marker in each cache volume records which models were fetched; while it matches the
# current settings, later starts do nothing and need no network (the worker runs with
# HF_HUB_OFFLINE=1). Set FORCE_FETCH_MODELS=1 to download again (a changed CANARY_MODEL or
# LID_MODEL does that by itself).
set -eu

wanted="canary=${CANARY_MODEL:-nvidia/canary-1b-v2} lid=${LID_MODEL:-langid_ambernet} silero=ru,en"
wanted="$wanted voices=${TTS_VOICE_RU:-baya},${TTS_VOICE_EN:-en_0}"
caches="${HF_HOME:?} ${NEMO_CACHE_DIR:?} ${SILERO_CACHE_DIR:?} ${PIPER_VOICES_DIR:?}"

fetched=1
for dir in $caches; do
    marker="$dir/.rutrans-fetched"
    if [ ! -f "$marker" ] || [ "$(cat "$marker")" != "$wanted" ]; then
        fetched=0
    fi
done

if [ "$fetched" = 1 ] && [ "${FORCE_FETCH_MODELS:-0}" != 1 ]; then
    echo "models already in the caches ($wanted); nothing to download"
    exit 0
fi

echo "fetching models: $wanted"
HF_HUB_OFFLINE=0 python /app/manage.py fetch_models --languages ru,en
for dir in $caches; do
    mkdir -p "$dir"
    printf '%s' "$wanted" > "$dir/.rutrans-fetched"
done
echo "models fetched; the worker runs offline from now on"
