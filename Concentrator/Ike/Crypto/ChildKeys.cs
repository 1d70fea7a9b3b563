using System.Security.Cryptography;

namespace Concentrator.Ike.Crypto;

/// <summary>Child SA KEYMAT split per RFC 7296 §2.17. Dispose zeroes them.</summary>
public sealed class ChildKeys : IDisposable
{
    /// <summary>Encryption keying material of initiator-to-responder ESP; for AEADs the salt is its last bytes.</summary>
    public byte[] EncrInitiator { get; init; } = [];
    public byte[] IntegInitiator { get; init; } = [];
    public byte[] EncrResponder { get; init; } = [];
    public byte[] IntegResponder { get; init; } = [];

    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(EncrInitiator);
        CryptographicOperations.ZeroMemory(IntegInitiator);
        CryptographicOperations.ZeroMemory(EncrResponder);
        CryptographicOperations.ZeroMemory(IntegResponder);
    }
}
