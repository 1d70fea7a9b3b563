using System.Security.Cryptography;

namespace Concentrator.Ike.Crypto;

/// <summary>Keys of an IKE SA (RFC 7296 §2.14). Dispose zeroes them.</summary>
public sealed class IkeKeys : IDisposable
{
    public byte[] SkD { get; init; } = [];
    public byte[] SkAi { get; init; } = [];
    public byte[] SkAr { get; init; } = [];
    /// <summary>Encryption key of initiator-to-responder traffic; for AEADs the salt is its last bytes.</summary>
    public byte[] SkEi { get; init; } = [];
    public byte[] SkEr { get; init; } = [];
    public byte[] SkPi { get; init; } = [];
    public byte[] SkPr { get; init; } = [];

    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(SkD);
        CryptographicOperations.ZeroMemory(SkAi);
        CryptographicOperations.ZeroMemory(SkAr);
        CryptographicOperations.ZeroMemory(SkEi);
        CryptographicOperations.ZeroMemory(SkEr);
        CryptographicOperations.ZeroMemory(SkPi);
        CryptographicOperations.ZeroMemory(SkPr);
    }
}
