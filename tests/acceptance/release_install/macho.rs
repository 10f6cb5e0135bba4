//! The macOS binaries cannot run here, so their format is checked instead, from the bytes:
//!
//! - the Mach-O header names the right CPU and an executable;
//! - `LC_BUILD_VERSION` asks for macOS 11.0 or older (the oldest macOS Terraform supports);
//! - every library it loads is one macOS itself ships (`/usr/lib`, `/System/Library`);
//! - `LC_CODE_SIGNATURE` holds an ad-hoc signature whose page hashes match the file (Apple
//!   silicon kills an unsigned or mis-signed arm64 program at exec);
//! - the framework stubs it was linked against (scripts/darwin-sdk) name exactly the symbols the
//!   two binaries import, so they are made from what is imported, not guessed.

use std::process::Command;

use testkit::release::{get as release, run_checked};
use testkit::repo_root;

const MH_MAGIC_64: u32 = 0xfeed_facf;
const MH_EXECUTE: u32 = 2;
const CPU_TYPE_X86_64: u32 = 0x0100_0007;
const CPU_TYPE_ARM64: u32 = 0x0100_000c;
const LC_LOAD_DYLIB: u32 = 0xc;
const LC_LOAD_WEAK_DYLIB: u32 = 0x8000_0018;
const LC_REEXPORT_DYLIB: u32 = 0x8000_001f;
const LC_CODE_SIGNATURE: u32 = 0x1d;
const LC_BUILD_VERSION: u32 = 0x32;
const PLATFORM_MACOS: u32 = 1;
const CSMAGIC_EMBEDDED_SIGNATURE: u32 = 0xfade_0cc0;
const CSMAGIC_CODEDIRECTORY: u32 = 0xfade_0c02;
const CS_ADHOC: u32 = 0x2;
const CS_HASHTYPE_SHA256: u8 = 2;
/// macOS 11.0 as LC_BUILD_VERSION encodes it (xxxx.yy.zz in nibbles).
const MACOS_11: u32 = 11 << 16;

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

/// What the checks need from a Mach-O executable.
#[derive(Debug, Default)]
struct MachO {
    cpu_type: u32,
    file_type: u32,
    /// (platform, minos) of LC_BUILD_VERSION.
    build_version: Option<(u32, u32)>,
    dylibs: Vec<String>,
    /// (dataoff, datasize) of LC_CODE_SIGNATURE.
    code_signature: Option<(usize, usize)>,
}

fn parse(b: &[u8]) -> MachO {
    assert_eq!(le32(b, 0), MH_MAGIC_64, "not a 64-bit Mach-O");
    let mut m = MachO {
        cpu_type: le32(b, 4),
        file_type: le32(b, 12),
        ..MachO::default()
    };
    let ncmds = le32(b, 16) as usize;
    let mut at = 32;
    for _ in 0..ncmds {
        let (cmd, size) = (le32(b, at), le32(b, at + 4) as usize);
        match cmd {
            LC_LOAD_DYLIB | LC_LOAD_WEAK_DYLIB | LC_REEXPORT_DYLIB => {
                let name_at = at + le32(b, at + 8) as usize;
                let name = &b[name_at..at + size];
                let end = name.iter().position(|&c| c == 0).unwrap_or(name.len());
                m.dylibs
                    .push(String::from_utf8_lossy(&name[..end]).into_owned());
            }
            LC_BUILD_VERSION => m.build_version = Some((le32(b, at + 8), le32(b, at + 12))),
            LC_CODE_SIGNATURE => {
                m.code_signature = Some((le32(b, at + 8) as usize, le32(b, at + 12) as usize))
            }
            _ => {}
        }
        at += size;
    }
    m
}

/// Checks the embedded signature: a SuperBlob with a CodeDirectory that is ad-hoc, hashes with
/// SHA-256, covers the file up to the signature, and whose every page hash matches the file.
/// Returns the CodeDirectory's identifier.
fn verify_adhoc_signature(b: &[u8], (dataoff, datasize): (usize, usize)) -> String {
    let sig = &b[dataoff..dataoff + datasize];
    assert_eq!(be32(sig, 0), CSMAGIC_EMBEDDED_SIGNATURE, "no SuperBlob");
    let count = be32(sig, 8) as usize;
    let cd_at = (0..count)
        .map(|i| (be32(sig, 12 + 8 * i), be32(sig, 16 + 8 * i) as usize))
        .find(|&(slot, _)| slot == 0)
        .expect("a CodeDirectory slot")
        .1;
    let cd = &sig[cd_at..];
    assert_eq!(be32(cd, 0), CSMAGIC_CODEDIRECTORY);
    let flags = be32(cd, 12);
    let (hash_offset, ident_offset) = (be32(cd, 16) as usize, be32(cd, 20) as usize);
    let n_code_slots = be32(cd, 28) as usize;
    let code_limit = be32(cd, 32) as usize;
    let (hash_size, hash_type, page_shift) = (cd[36], cd[37], cd[39]);
    assert!(flags & CS_ADHOC != 0, "not ad-hoc: flags {flags:#x}");
    assert_eq!(hash_type, CS_HASHTYPE_SHA256);
    assert_eq!(hash_size, 32);
    assert_eq!(
        code_limit, dataoff,
        "the signature must cover the file up to itself"
    );
    let page = 1usize << page_shift;
    assert_eq!(n_code_slots, code_limit.div_ceil(page));
    for slot in 0..n_code_slots {
        let start = slot * page;
        let want = &cd[hash_offset + 32 * slot..hash_offset + 32 * (slot + 1)];
        assert!(
            sha256(&b[start..(start + page).min(code_limit)]) == want,
            "page {slot} does not match its hash"
        );
    }
    let ident = &cd[ident_offset..];
    String::from_utf8_lossy(&ident[..ident.iter().position(|&c| c == 0).unwrap()]).into_owned()
}

#[test]
fn darwin_binaries_are_signed_executables_for_macos_11_that_load_only_system_libraries() {
    let r = release();
    for (os_arch, cpu) in [
        ("darwin_amd64", CPU_TYPE_X86_64),
        ("darwin_arm64", CPU_TYPE_ARM64),
    ] {
        let path = r.binary(os_arch);
        let b = std::fs::read(&path).unwrap();
        let m = parse(&b);
        assert_eq!(
            (m.cpu_type, m.file_type),
            (cpu, MH_EXECUTE),
            "{os_arch}: {m:?}"
        );
        let (platform, minos) = m.build_version.expect("LC_BUILD_VERSION");
        assert_eq!(platform, PLATFORM_MACOS, "{os_arch}");
        assert!(
            minos <= MACOS_11,
            "{os_arch} needs macOS {}.{}, newer than 11.0",
            minos >> 16,
            (minos >> 8) & 0xff
        );
        assert!(
            m.dylibs.iter().all(|d| d.starts_with("/usr/lib/")
                || d.starts_with("/System/Library/Frameworks/")),
            "{os_arch} loads a library macOS does not ship: {:?}",
            m.dylibs
        );
        for framework in ["Security", "CoreFoundation"] {
            assert!(
                m.dylibs
                    .iter()
                    .any(|d| d.ends_with(&format!("/{framework}"))),
                "{os_arch} does not load {framework} (the keychain's trust settings): {:?}",
                m.dylibs
            );
        }
        let ident =
            verify_adhoc_signature(&b, m.code_signature.expect("LC_CODE_SIGNATURE, ad-hoc"));
        eprintln!(
            "release_install: {os_arch}: macOS {}.{}+, ad-hoc signed as {ident}, loads {:?}",
            minos >> 16,
            (minos >> 8) & 0xff,
            m.dylibs
        );
    }

    run_checked(
        Command::new("python3")
            .arg(repo_root().join("scripts/darwin-sdk/generate.py"))
            .arg("--check")
            .arg(r.binary("darwin_amd64"))
            .arg(r.binary("darwin_arm64")),
    );
}

fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    digest.as_ref().try_into().unwrap()
}
