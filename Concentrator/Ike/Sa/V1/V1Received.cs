using Concentrator.Ike.Wire.V1;

namespace Concentrator.Ike.Sa.V1;

/// <summary>
/// A received IKEv1 message as an exchange handler gets it: the header, the payload chain (decrypted when the E flag
/// was set), and for a protected message the plaintext chain and the IV it moves its exchange to. Nothing of the SA
/// has moved yet: the handler checks the message (its HASH), then calls <see cref="IkeV1Sa.CommitReceived"/>.
/// </summary>
public sealed class V1Received
{
    internal V1Received(V1Inbound inbound, IReadOnlyList<V1Payload> payloads, byte[] plaintext, byte[] nextIv)
    {
        Inbound = inbound;
        Payloads = payloads;
        Plaintext = plaintext;
        NextIv = nextIv;
    }

    public V1Inbound Inbound { get; }
    public IsakmpHeader Header => Inbound.Header;
    public uint MessageId => Inbound.Header.MessageId;
    public bool Protected => Inbound.Header.Encrypted;
    public IReadOnlyList<V1Payload> Payloads { get; }

    /// <summary>The decrypted chain, cipher padding included; empty for a cleartext message.</summary>
    public byte[] Plaintext { get; }

    internal byte[] NextIv { get; }

    public T? Find<T>() where T : V1Payload => Payloads.OfType<T>().FirstOrDefault();

    public IEnumerable<T> All<T>() where T : V1Payload => Payloads.OfType<T>();

    public V1DataPayload? Data(V1PayloadType type) => Payloads.OfType<V1DataPayload>().FirstOrDefault(p => p.Type == type);

    /// <summary>
    /// The chain after its first payload, generic headers included, without padding: what RFC 2409 §5.5/§5.7 HASH(1),
    /// HASH(2) and the informational HASH cover when the HASH payload comes first. Empty unless the message was
    /// protected and its first payload is a HASH.
    /// </summary>
    public ReadOnlySpan<byte> AfterHash
    {
        get
        {
            if (!Protected || Payloads.Count == 0 || Payloads[0].Type != V1PayloadType.Hash) return [];
            int first = V1Constants.GenericHeaderLength + Payloads[0].BodyLength;
            int end = IsakmpCodec.GetChainLength(Payloads);
            return end <= Plaintext.Length ? Plaintext.AsSpan(first, end - first) : [];
        }
    }
}
