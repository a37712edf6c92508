# Source on the device machine, first in every command:  source scripts/gpu/setup.sh && ...
# Installs the carried wheels into /tmp/site, points the library at the carried data and the
# notebooks at a Jupyter kernel, and records the commit the results come from (lib.sh: gpu_setup).
source scripts/gpu/lib.sh && gpu_setup
