using System.Net;
using System.Net.Sockets;
using System.Text;
using Concentrator.Ike.Wire;

namespace Concentrator.Ike.Connections;

/// <summary>
/// An IKE identity in strongSwan's notation: an IP address, "user@host" (RFC822), "keyid:..." (KEY_ID),
/// anything else an FQDN; "%any" is the wildcard that matches every identity.
/// </summary>
public sealed class Identity : IEquatable<Identity>
{
    public const string Any = "%any";

    private Identity(IdType type, byte[] data, string text)
    {
        Type = type;
        Data = data;
        Text = text;
    }

    public IdType Type { get; }
    public byte[] Data { get; }
    public string Text { get; }
    public bool IsAny => Text == Any;

    public static Identity Parse(string text)
    {
        if (string.IsNullOrEmpty(text) || text == Any)
        {
            return new Identity(IdType.Fqdn, [], Any);
        }

        if (text.StartsWith("keyid:", StringComparison.Ordinal))
        {
            return new Identity(IdType.KeyId, Encoding.UTF8.GetBytes(text[6..]), text);
        }

        if (IPAddress.TryParse(text, out var ip))
        {
            return FromAddress(ip);
        }

        if (text.Contains('@'))
        {
            return new Identity(IdType.Rfc822Address, Encoding.ASCII.GetBytes(text), text);
        }

        return new Identity(IdType.Fqdn, Encoding.ASCII.GetBytes(text), text);
    }

    public static Identity FromAddress(IPAddress address) =>
        new(address.AddressFamily == AddressFamily.InterNetworkV6 ? IdType.Ipv6Address : IdType.Ipv4Address,
            address.GetAddressBytes(), address.ToString());

    public static Identity FromPayload(IdPayload payload)
    {
        string text = payload.IdType switch
        {
            IdType.Ipv4Address when payload.Data.Length == 4 => new IPAddress(payload.Data).ToString(),
            IdType.Ipv6Address when payload.Data.Length == 16 => new IPAddress(payload.Data).ToString(),
            IdType.Fqdn or IdType.Rfc822Address => Encoding.ASCII.GetString(payload.Data),
            IdType.KeyId => "keyid:" + Encoding.UTF8.GetString(payload.Data),
            _ => Convert.ToHexString(payload.Data),
        };
        return new Identity(payload.IdType, payload.Data, text);
    }

    public IdPayload ToPayload(PayloadType type) => new(type, Type, Data);

    /// <summary>True when this (configured) identity accepts <paramref name="other"/> (received).</summary>
    public bool Matches(Identity other) => IsAny || Equals(other);

    public bool Equals(Identity? other) =>
        other is not null && Type == other.Type && Data.AsSpan().SequenceEqual(other.Data) &&
        (Type != IdType.Fqdn && Type != IdType.Rfc822Address || string.Equals(Text, other.Text, StringComparison.OrdinalIgnoreCase));

    public override bool Equals(object? obj) => obj is Identity i && Equals(i);
    public override int GetHashCode() => HashCode.Combine(Type, Text.ToLowerInvariant());
    public override string ToString() => Text;
}
