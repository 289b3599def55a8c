#!/usr/bin/env bash
# The q2-aam CLI workflow on examples/oral-age-mini (191 oral samples, host
# age): pretrain an encoder on weighted UniFrac, read age out of it on the
# training groups (the default readout), predict the held-out groups, plot
# truth vs prediction.
# Run through `make demo` (which sets up .venv first). Writes demo-output/.
#
# Environment: DEMO_EPOCHS_PRETRAIN (default 30), DEMO_PRESET (default small),
# OUT (default demo-output).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
QIIME=${QIIME:-$ROOT/.venv/bin/qiime}
EX=examples/oral-age-mini
OUT=${OUT:-demo-output}
PRESET=${DEMO_PRESET:-small}
EPOCHS_PRETRAIN=${DEMO_EPOCHS_PRETRAIN:-30}
SEED=42

[ -x "$QIIME" ] || { echo "no $QIIME: run 'make demo' (it bootstraps)" >&2; exit 1; }
mkdir -p "$OUT"
now_ms() { local us=${EPOCHREALTIME/[.,]/}; echo $((us / 1000)); }
seconds_since() { local ms=$(( $(now_ms) - $1 )); printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)); }
T_START=$(now_ms)

step() {  # step "description" command...
    local name=$1 t0
    shift
    printf '\n== %s\n' "$name"
    t0=$(now_ms)
    "$@"
    printf '   %s s\n' "$(seconds_since "$t0")"
}

step "import the feature table (ids are the ASV sequences)" \
    "$QIIME" tools import --type 'FeatureTable[Frequency]' \
        --input-format BIOMV210Format \
        --input-path "$EX/table.biom" --output-path "$OUT/table.qza"

step "import the tree" \
    "$QIIME" tools import --type 'Phylogeny[Rooted]' \
        --input-path "$EX/tree.nwk" --output-path "$OUT/tree.qza"

# The metadata's `split` column holds out whole groups (pseudo-subjects), so
# no person is on both sides and the scatterplot shows honest predictions.
step "split by group: training samples" \
    "$QIIME" feature-table filter-samples --i-table "$OUT/table.qza" \
        --m-metadata-file "$EX/metadata.tsv" --p-where "[split]='train'" \
        --o-filtered-table "$OUT/train-table.qza"

step "split by group: held-out samples" \
    "$QIIME" feature-table filter-samples --i-table "$OUT/table.qza" \
        --m-metadata-file "$EX/metadata.tsv" --p-where "[split]='test'" \
        --o-filtered-table "$OUT/test-table.qza"

step "weighted UniFrac of the training samples" \
    "$QIIME" diversity-lib weighted-unifrac --i-table "$OUT/train-table.qza" \
        --i-phylogeny "$OUT/tree.qza" --o-distance-matrix "$OUT/unifrac.qza"

step "pretrain the encoder (UniFrac + masked nucleotides, no labels)" \
    "$QIIME" aam pretrain --i-table "$OUT/train-table.qza" \
        --i-distance-matrix "$OUT/unifrac.qza" \
        --p-preset "$PRESET" --p-epochs "$EPOCHS_PRETRAIN" \
        --p-random-state "$SEED" --p-device cpu \
        --o-model "$OUT/pretrained.qza" --verbose

step "read age out of the encoder (ridge readout, penalty by grouped cross-validation)" \
    "$QIIME" aam fit-regressor --i-table "$OUT/train-table.qza" \
        --i-pretrained-model "$OUT/pretrained.qza" \
        --m-metadata-file "$EX/metadata.tsv" --m-metadata-column age \
        --m-groups-file "$EX/metadata.tsv" --m-groups-column group \
        --p-random-state "$SEED" --p-device cpu \
        --o-model "$OUT/regressor.qza" --verbose

step "predict age of the held-out groups" \
    "$QIIME" aam predict-regression --i-table "$OUT/test-table.qza" \
        --i-model "$OUT/regressor.qza" --p-device cpu \
        --o-predictions "$OUT/predictions.qza"

step "scatterplot of truth vs prediction (q2-sample-classifier)" \
    "$QIIME" sample-classifier scatterplot \
        --i-predictions "$OUT/predictions.qza" \
        --m-truth-file "$EX/metadata.tsv" --m-truth-column age \
        --o-visualization "$OUT/scatterplot.qzv"

printf '\nDone in %s s. Results in %s/:\n' "$(seconds_since "$T_START")" "$OUT"
cat <<MSG
  pretrained.qza   AAM encoder pretrained on weighted UniFrac
  regressor.qza    AAM age regressor
  predictions.qza  predicted age of the held-out groups
  scatterplot.qzv  open with: qiime tools view $OUT/scatterplot.qzv
                   or drag it onto https://view.qiime2.org
MSG
