using System.Text;

namespace Concentrator.Radius;

/// <summary>
/// A request before it is bound to a server: its code and attributes. The identifier, authenticator, NAS-Identifier and
/// Message-Authenticator depend on the server (its socket's identifier space, its secret) and are added by
/// <see cref="Encode"/> each time the request goes to another server.
/// </summary>
public sealed class RadiusRequest
{
    private readonly List<(RadiusAttributeType Type, byte[] Value)> _attributes = [];

    public RadiusRequest(RadiusCode code) => Code = code;

    public RadiusCode Code { get; }
    public bool IsAccounting => Code == RadiusCode.AccountingRequest;
    /// <summary>One EAP packet, split over EAP-Message attributes on encoding.</summary>
    public byte[]? Eap { get; set; }

    public RadiusRequest Add(RadiusAttributeType type, byte[] value)
    {
        if (value.Length > RadiusAttribute.MaxValueLength) throw new ArgumentException($"{type} above 253 octets", nameof(value));
        _attributes.Add((type, value));
        return this;
    }

    /// <summary>Text as UTF-8, cut to the 253 octets an attribute holds.</summary>
    public RadiusRequest Add(RadiusAttributeType type, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        return Add(type, bytes.Length > RadiusAttribute.MaxValueLength ? bytes[..RadiusAttribute.MaxValueLength] : bytes);
    }

    public RadiusRequest Add(RadiusAttributeType type, uint value) =>
        Add(type, [(byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value]);

    public IEnumerable<(RadiusAttributeType Type, byte[] Value)> Attributes => _attributes;

    /// <summary>
    /// The packet for one server. An Access-Request gets a random authenticator and a Message-Authenticator as its first
    /// attribute (RFC 3579 §3.2 requires it with EAP-Message; first, as the BlastRADIUS advice puts it); an
    /// Accounting-Request the MD5 authenticator of RFC 2866 §3. Null when it exceeds 4096 octets.
    /// </summary>
    public byte[]? Encode(byte identifier, ReadOnlySpan<byte> secret, string nasIdentifier, out byte[] requestAuthenticator)
    {
        var buffer = new byte[RadiusPacket.MaxLength];
        requestAuthenticator = new byte[RadiusAuthenticator.Length];
        if (!IsAccounting) RadiusAuthenticator.NewRequestAuthenticator(requestAuthenticator);
        var writer = new RadiusWriter(buffer, Code, identifier, requestAuthenticator);
        int macOffset = -1;
        if (!IsAccounting)
        {
            macOffset = writer.Length + 2;
            writer.TryAdd(RadiusAttributeType.MessageAuthenticator, stackalloc byte[RadiusAuthenticator.Length]);
        }
        bool ok = writer.TryAdd(RadiusAttributeType.NasIdentifier, Encoding.UTF8.GetBytes(nasIdentifier));
        foreach (var (type, value) in _attributes) ok &= writer.TryAdd(type, value);
        if (Eap is { } eap) ok &= RadiusAttribute.TryAddEapMessage(ref writer, eap);
        if (!ok) return null;
        int length = writer.Finish();
        var packet = buffer.AsSpan(0, length).ToArray();
        if (IsAccounting)
        {
            RadiusAuthenticator.SignAccountingRequest(packet, secret);
            packet.AsSpan(4, RadiusAuthenticator.Length).CopyTo(requestAuthenticator);
        }
        else
        {
            RadiusAuthenticator.SignMessageAuthenticator(packet, macOffset, [], secret);
        }
        return packet;
    }
}

/// <summary>A verified response with what decrypting its keys needs: the request's authenticator and the server.</summary>
public sealed class RadiusResponse
{
    internal RadiusResponse(byte[] packet, byte[] requestAuthenticator, RadiusServer server)
    {
        Packet = packet;
        RequestAuthenticator = requestAuthenticator;
        Server = server;
    }

    public byte[] Packet { get; }
    public byte[] RequestAuthenticator { get; }
    public RadiusServer Server { get; }
    public RadiusCode Code => (RadiusCode)Packet[0];

    /// <summary>The packet, already parsed once when it was verified, so this cannot fail.</summary>
    public RadiusPacket Parsed()
    {
        RadiusPacket.TryParse(Packet, out var packet);
        return packet;
    }

    /// <summary>The MSK from MS-MPPE-Recv/Send-Key (<see cref="MsMppeKey.DecryptMsk"/>); the caller zeroes it.</summary>
    public byte[]? DecryptMsk() => MsMppeKey.DecryptMsk(Parsed(), RequestAuthenticator, Server.Options.Secret);
}
