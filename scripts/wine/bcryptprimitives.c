/* bcryptprimitives.dll for wine 8.0, which lacks it: ProcessPrng, the random source Rust's and
 * Go's standard libraries call on Windows (Rust since 1.78, Go since 1.24), forwarded to
 * advapi32's RtlGenRandom (exported as SystemFunction036), which wine has. Test support only:
 * scripts/install-release-tools.sh builds it with zig into the tests' wine prefix. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
