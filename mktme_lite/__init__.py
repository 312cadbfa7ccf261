"""mktme_lite: a small, faithful simulator of Intel TME / MKTME (TME-MK) for teaching.

Layers (a lower layer never imports a higher one):

    hardware   xts, address, keytable, memory, cache, machine
    kernel     mktme_lite.kernel (frames, direct map, processes, syscalls, swap, XPFO)
    scenarios  races, costs
    pictures   viz, widgets
    lessons    checks, quiz, lesson

Import what you need from the submodules; the names re-exported here are the ones
every lesson uses.
"""

__version__ = "0.1.0"
