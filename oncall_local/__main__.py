import gc
import sys

from oncall_local.server import main

code = main()
# Everything is stopped: spare the interpreter's exit a collection of every object
# (moto's tables and models), which took seconds.
gc.freeze()
sys.exit(code)
