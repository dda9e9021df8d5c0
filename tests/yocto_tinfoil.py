# Run by tests/yocto.rs inside a test build directory (OE-Core's meta and
# meta-scgen, "scgen" in DISTRO_FEATURES), with bitbake/lib on sys.path.
# Checked through tinfoil, the API bitbake-layers and devtool use: every
# recipe of the layer parses with its bbappends, which classes each inherits,
# and what OE-Core's own busybox recipe stages with the bbappend in place
# (the example build uses a stand-in busybox; this is the real recipe). Writes its findings as JSON to argv[2];
# the Rust test asserts on them.
import glob
import json
import os
import sys

import bb.build
import bb.tinfoil
import bb.utils

layer, out_path, work = sys.argv[1], sys.argv[2], sys.argv[3]
out = {}

with bb.tinfoil.Tinfoil(tracking=True) as tinfoil:
    tinfoil.prepare(config_only=False)
    all_files = sorted(tinfoil.all_recipe_files(variants=False))

    # Every recipe of the layer, parsed with its appends, and which of the
    # layer's classes it inherits.
    recipes = {}
    for fn in sorted(glob.glob(os.path.join(layer, "recipes-*", "*", "*.bb"))):
        d = tinfoil.parse_recipe_file(fn)
        inherited = d.getVar("__inherit_cache", False) or []
        recipes[os.path.relpath(fn, layer)] = {
            "PN": d.getVar("PN"),
            "classes": sorted(os.path.relpath(c, layer) for c in inherited if c.startswith(layer)),
        }
    out["recipes"] = recipes

    # Which recipe file each of the layer's bbappends applies to.
    applied = {}
    for fn in all_files:
        for append in tinfoil.get_file_appends(fn):
            if append.startswith(layer):
                applied.setdefault(os.path.relpath(append, layer), []).append(os.path.basename(fn))
    out["bbappends"] = applied

    # busybox: the append adds its function to SYSROOT_PREPROCESS_FUNCS, which
    # do_populate_sysroot runs. Run that task's own function on a fake ${D}.
    busybox = [f for f in all_files if os.path.basename(f).startswith("busybox_")]
    out["busybox_recipe"] = [os.path.basename(f) for f in busybox]
    if len(busybox) == 1:
        d = tinfoil.parse_recipe_file(busybox[0])
        # Which files assigned SYSROOT_PREPROCESS_FUNCS, and how. (Parsing
        # busybox a second time without its appends would give another
        # basehash for do_populate_sysroot, which BitBake reports as an error.)
        out["busybox_funcs_history"] = [
            [os.path.basename(h.get("file", "")), h.get("op", "")]
            for h in d.varhistory.variable("SYSROOT_PREPROCESS_FUNCS")
        ]
        out["busybox_funcs"] = (d.getVar("SYSROOT_PREPROCESS_FUNCS") or "").split()
        out["busybox_func_is_shell"] = bool(d.getVarFlag("scgen_stage_busybox_links", "func")) and not d.getVarFlag(
            "scgen_stage_busybox_links", "python"
        )
        root = os.path.join(work, "busybox")
        bb.utils.remove(root, recurse=True)
        image = os.path.join(root, "image")
        destdir = os.path.join(root, "sysroot-destdir")
        temp = os.path.join(root, "temp")
        sysconfdir = d.getVar("sysconfdir")
        etc = image + sysconfdir
        bb.utils.mkdirhier(etc)
        bb.utils.mkdirhier(destdir)
        bb.utils.mkdirhier(temp)
        for name, text in (
            ("busybox.links.nosuid", "/bin/sh\n/bin/ls\n"),
            ("busybox.links.suid", "/bin/ping\n"),
            ("inittab", "::sysinit:/etc/init.d/rcS\n"),
        ):
            with open(os.path.join(etc, name), "w") as f:
                f.write(text)
        d.setVar("WORKDIR", root)
        d.setVar("D", image)
        d.setVar("SYSROOT_DESTDIR", destdir)
        d.setVar("T", temp)
        d.setVar("B", root)
        # The task's Python calls into OE-Core's `oe` modules, which the
        # server imported for itself (layer.conf's addpylib); do the same
        # here, in the client that runs the function.
        import bb.parse.ast

        bb.parse.ast.PyLibNode(None, 0, "${COREBASE}/meta/lib", "oe").eval(d)
        bb.build.exec_func("do_populate_sysroot", d)
        staged = []
        for dirpath, dirnames, filenames in os.walk(destdir):
            for name in filenames:
                staged.append(os.path.relpath(os.path.join(dirpath, name), destdir))
        out["busybox_staged"] = sorted(staged)
        out["busybox_sysconfdir"] = sysconfdir

with open(out_path, "w") as f:
    json.dump(out, f, indent=1, sort_keys=True)
