#!/usr/bin/env python3
"""Packs built provider binaries into the Terraform Registry's release format, and the same zips
into provider mirrors for Terraform and OpenTofu. Standard library only; scripts/release.sh calls it.

    package-release.py --version V --out DIR [--sign-key KEY] OS_ARCH=BINARY...

writes into DIR (emptied first):
    terraform-provider-hostup_V_OS_ARCH.zip     one per OS_ARCH, holding only
                                                terraform-provider-hostup_vV (+ .exe on windows)
    terraform-provider-hostup_V_manifest.json   {"version":1,"metadata":{"protocol_versions":["5.0"]}}
    terraform-provider-hostup_V_SHA256SUMS      sha256 of every zip and the manifest
    terraform-provider-hostup_V_SHA256SUMS.sig  detached binary GPG signature (with --sign-key)
    mirrors/network/HOST/hostup/hostup/{index.json,V.json,*.zip}   provider network mirror
    mirrors/filesystem/HOST/hostup/hostup/*.zip                    packed filesystem mirror
for HOST in registry.terraform.io and registry.opentofu.org. V.json lists each zip with its h1:
hash (Go's dirhash Hash1 over the files inside the zip, which Terraform writes into
.terraform.lock.hcl) and its zh: hash (sha256 of the zip file itself, as in SHA256SUMS).

The zips are reproducible: fixed timestamps and modes, so the same binary gives the same zh:.
"""

import argparse
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile

NAME = "terraform-provider-hostup"
NAMESPACE, TYPE = "hostup", "hostup"
HOSTS = ("registry.terraform.io", "registry.opentofu.org")
MANIFEST = {"version": 1, "metadata": {"protocol_versions": ["5.0"]}}
# 1980-01-01, the earliest time a zip entry can hold: no build time leaks into the archive.
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def dirhash_h1(zip_path):
    """golang.org/x/mod/sumdb/dirhash.HashZip(zip, Hash1): sha256 over the lines
    "<hex sha256 of file>  <name>\\n" for every entry, names sorted, base64 with an h1: prefix."""
    summary = hashlib.sha256()
    with zipfile.ZipFile(zip_path) as z:
        names = sorted(z.namelist())
        for name in names:
            if "\n" in name:
                raise ValueError(f"dirhash: file name with newline: {name!r}")
            summary.update(f"{hashlib.sha256(z.read(name)).hexdigest()}  {name}\n".encode())
    return "h1:" + base64.b64encode(summary.digest()).decode()


def write_zip(zip_path, member, binary):
    info = zipfile.ZipInfo(member, date_time=ZIP_TIME)
    info.create_system = 3  # Unix, so the mode below is honoured on extraction
    info.external_attr = (0o100755 & 0xFFFF) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    with open(binary, "rb") as f:
        data = f.read()
    with zipfile.ZipFile(zip_path, "w") as z:
        z.writestr(info, data, compresslevel=9)


def write_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=2, sort_keys=True)
        f.write("\n")


def sign(sums_path, key):
    sig = sums_path + ".sig"
    cmd = ["gpg", "--batch", "--yes", "--local-user", key, "--detach-sign", "--output", sig]
    passphrase = os.environ.get("HOSTUP_RELEASE_GPG_PASSPHRASE")
    if passphrase is not None:
        cmd += ["--pinentry-mode", "loopback", "--passphrase-fd", "0"]
    subprocess.run(cmd + [sums_path], check=True, input=(passphrase or "").encode())
    return sig


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--version", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--sign-key", default="")
    ap.add_argument("binaries", nargs="+", metavar="OS_ARCH=BINARY")
    args = ap.parse_args()
    v = args.version

    if os.path.isdir(args.out):
        shutil.rmtree(args.out)
    os.makedirs(args.out)

    zips = {}  # os_arch -> file name
    for spec in args.binaries:
        os_arch, _, binary = spec.partition("=")
        if not binary or os_arch in zips:
            sys.exit(f"package-release: bad or repeated OS_ARCH=BINARY: {spec}")
        member = f"{NAME}_v{v}" + (".exe" if os_arch.startswith("windows_") else "")
        zips[os_arch] = f"{NAME}_{v}_{os_arch}.zip"
        write_zip(os.path.join(args.out, zips[os_arch]), member, binary)

    manifest = f"{NAME}_{v}_manifest.json"
    with open(os.path.join(args.out, manifest), "w") as f:
        f.write(json.dumps(MANIFEST, separators=(",", ":")) + "\n")

    sums = os.path.join(args.out, f"{NAME}_{v}_SHA256SUMS")
    with open(sums, "w") as f:
        for name in sorted(list(zips.values()) + [manifest]):
            f.write(f"{sha256_file(os.path.join(args.out, name))}  {name}\n")
    if args.sign_key:
        sign(sums, args.sign_key)

    archives = {}
    for os_arch, name in sorted(zips.items()):
        path = os.path.join(args.out, name)
        archives[os_arch] = {"url": name, "hashes": [dirhash_h1(path), "zh:" + sha256_file(path)]}
    for host in HOSTS:
        net = os.path.join(args.out, "mirrors", "network", host, NAMESPACE, TYPE)
        fs = os.path.join(args.out, "mirrors", "filesystem", host, NAMESPACE, TYPE)
        os.makedirs(net)
        os.makedirs(fs)
        write_json(os.path.join(net, "index.json"), {"versions": {v: {}}})
        write_json(os.path.join(net, f"{v}.json"), {"archives": archives})
        for name in zips.values():
            shutil.copyfile(os.path.join(args.out, name), os.path.join(net, name))
            shutil.copyfile(os.path.join(args.out, name), os.path.join(fs, name))

    for os_arch in sorted(archives):
        print(f"{zips[os_arch]}  {' '.join(archives[os_arch]['hashes'])}")


if __name__ == "__main__":
    main()
