#!/bin/bash
# Copies the training photographs into .devdata/ (ignored by git) so that a device run can
# carry them: the ../shared folder beside the checkout does not travel to the GPU machine.
set -euo pipefail
SRC=${1:-../shared/data/train}
mkdir -p .devdata
rm -rf .devdata/train
cp -r "$SRC" .devdata/train
du -sh .devdata/train
