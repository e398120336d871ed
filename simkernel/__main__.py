"""python -m simkernel <nanoBragg arguments> -floatfile out.bin"""
import sys

from .cli import main

sys.exit(main())
