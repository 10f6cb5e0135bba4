#!/usr/bin/env python3
"""Gives a Mach-O executable an ad-hoc code signature, as Apple's `codesign -s -` and ld64's
`-adhoc_codesign` do, for the macOS binaries zig links unsigned (it signs only arm64 ones).

    adhoc-sign.py BINARY [IDENTIFIER]

macOS on Apple silicon kills an unsigned arm64 executable; an Intel Mac runs one unsigned, but
a signature lets the same checks apply to both packages. An ad-hoc signature is a SuperBlob holding
one CodeDirectory: the SHA-256 of every 4 KiB page of the file up to the signature, flagged
ad-hoc and linker-signed, with no certificate, requirements or entitlements. The load command
LC_CODE_SIGNATURE goes into the header padding, the signature at the end of __LINKEDIT, so no
section moves. A binary that is already signed is left alone. Standard library only.
"""

import hashlib
import struct
import sys

MH_MAGIC_64 = 0xFEEDFACF
MH_EXECUTE = 2
LC_SEGMENT_64 = 0x19
LC_CODE_SIGNATURE = 0x1D
CSMAGIC_EMBEDDED_SIGNATURE = 0xFADE0CC0
CSMAGIC_CODEDIRECTORY = 0xFADE0C02
CS_ADHOC, CS_LINKER_SIGNED = 0x2, 0x20000
CS_HASHTYPE_SHA256, CS_SHA256_LEN = 2, 32
CS_EXECSEG_MAIN_BINARY = 0x1
CD_VERSION = 0x20400  # the version that carries the exec segment fields
CD_HEADER = struct.Struct(">9I4B4IQ3Q")  # 88 bytes
PAGE_SHIFT = 12
PAGE = 1 << PAGE_SHIFT


def align(n, to):
    return (n + to - 1) // to * to


def sign(data, identifier):
    magic, _cpu, _sub, filetype, ncmds, sizeofcmds, _flags, _res = struct.unpack_from("<8I", data)
    if magic != MH_MAGIC_64:
        raise SystemExit("adhoc-sign.py: not a 64-bit little-endian Mach-O file")
    off, segments, first_section = 32, {}, len(data)
    for _ in range(ncmds):
        cmd, size = struct.unpack_from("<2I", data, off)
        if cmd == LC_CODE_SIGNATURE:
            return None
        if cmd == LC_SEGMENT_64:
            name = data[off + 8 : off + 24].rstrip(b"\0").decode()
            segments[name] = off
            nsects = struct.unpack_from("<I", data, off + 64)[0]
            for s in range(nsects):
                section_offset = struct.unpack_from("<I", data, off + 72 + 80 * s + 48)[0]
                if section_offset:
                    first_section = min(first_section, section_offset)
        off += size
    if off + 16 > first_section:
        raise SystemExit("adhoc-sign.py: no room for LC_CODE_SIGNATURE in the header padding")
    linkedit = segments.get("__LINKEDIT")
    if linkedit is None:
        raise SystemExit("adhoc-sign.py: no __LINKEDIT segment")
    le_fileoff, le_filesize = struct.unpack_from("<2Q", data, linkedit + 40)
    if le_fileoff + le_filesize != len(data):
        raise SystemExit("adhoc-sign.py: __LINKEDIT does not end the file")

    code_limit = align(len(data), 16)
    n_slots = (code_limit + PAGE - 1) // PAGE
    ident = identifier.encode() + b"\0"
    ident_offset = CD_HEADER.size
    hash_offset = ident_offset + len(ident)
    cd_length = hash_offset + n_slots * CS_SHA256_LEN
    sig_size = align(12 + 8 + cd_length, 16)

    out = bytearray(data) + bytes(code_limit - len(data))
    struct.pack_into("<2I", out, 16, ncmds + 1, sizeofcmds + 16)
    struct.pack_into("<4I", out, off, LC_CODE_SIGNATURE, 16, code_limit, sig_size)
    new_filesize = code_limit + sig_size - le_fileoff
    struct.pack_into("<2Q", out, linkedit + 32, align(new_filesize, PAGE), le_fileoff)
    struct.pack_into("<Q", out, linkedit + 48, new_filesize)

    text = segments["__TEXT"]
    text_fileoff, text_filesize = struct.unpack_from("<2Q", out, text + 40)
    exec_flags = CS_EXECSEG_MAIN_BINARY if filetype == MH_EXECUTE else 0
    hashes = b"".join(
        hashlib.sha256(out[i : min(i + PAGE, code_limit)]).digest() for i in range(0, code_limit, PAGE)
    )
    cd = CD_HEADER.pack(
        CSMAGIC_CODEDIRECTORY, cd_length, CD_VERSION, CS_ADHOC | CS_LINKER_SIGNED,
        hash_offset, ident_offset, 0, n_slots, code_limit,
        CS_SHA256_LEN, CS_HASHTYPE_SHA256, 0, PAGE_SHIFT,
        0, 0, 0, 0, 0,
        text_fileoff, text_filesize, exec_flags,
    ) + ident + hashes
    superblob = struct.pack(">5I", CSMAGIC_EMBEDDED_SIGNATURE, 12 + 8 + len(cd), 1, 0, 20) + cd
    return bytes(out) + superblob + bytes(sig_size - len(superblob))


def main(argv):
    if len(argv) not in (1, 2):
        raise SystemExit(__doc__)
    path = argv[0]
    identifier = argv[1] if len(argv) == 2 else path.rsplit("/", 1)[-1]
    with open(path, "rb") as f:
        signed = sign(f.read(), identifier)
    if signed is None:
        print(f"adhoc-sign.py: {path} is already signed")
        return
    with open(path, "wb") as f:
        f.write(signed)
    print(f"adhoc-sign.py: signed {path} ({identifier})")


if __name__ == "__main__":
    main(sys.argv[1:])
