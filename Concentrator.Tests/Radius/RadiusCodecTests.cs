using System.Net;
using System.Text;
using Concentrator.Radius;

namespace Concentrator.Tests.Radius;

public sealed class RadiusCodecTests
{
    private static readonly byte[] Secret = Encoding.ASCII.GetBytes("xyzzy5461");

    // RFC 2865 §7.1: user nemo, password arctangent, NAS 192.168.1.16 port 3, shared secret xyzzy5461.
    private static readonly byte[] Rfc2865Request = Convert.FromHexString(
        "010000380f403f9473978057bd83d5cb98f4227a01066e656d6f02120dbe708d93d413ce3196e43f782a0aee0406c0a801100506" + "00000003");

    private static readonly byte[] Rfc2865Accept = Convert.FromHexString(
        "0200002686fe220e7624ba2a1005f6bf9b55e0b206060000000 10f06000000000e06c0a80103".Replace(" ", ""));

    [Fact]
    public void Rfc2865_example_request_parses_and_its_hidden_password_matches()
    {
        Assert.Equal(RadiusParseStatus.Ok, RadiusPacket.TryParse(Rfc2865Request, out var request));
        Assert.Equal(RadiusCode.AccessRequest, request.Code);
        Assert.True(request.TryFind(RadiusAttributeType.UserName, out var user));
        Assert.Equal("nemo", Encoding.ASCII.GetString(user));
        Assert.True(request.TryFind(RadiusAttributeType.UserPassword, out var hidden));
        var ours = RadiusAuthenticator.HidePassword("arctangent"u8, request.Authenticator, Secret);
        Assert.Equal(hidden.ToArray(), ours);
    }

    [Fact]
    public void Rfc2865_example_accept_verifies_against_the_request_authenticator()
    {
        var requestAuthenticator = Rfc2865Request.AsSpan(4, 16);
        Assert.Equal(RadiusParseStatus.Ok, RadiusPacket.TryParse(Rfc2865Accept, out var accept));
        Assert.Equal(RadiusCode.AccessAccept, accept.Code);
        Assert.True(RadiusAuthenticator.VerifyResponse(accept.Bytes, requestAuthenticator, Secret));
        Assert.False(RadiusAuthenticator.VerifyResponse(accept.Bytes, requestAuthenticator, "xyzzy5462"u8));
        var tampered = (byte[])Rfc2865Accept.Clone();
        tampered[^1] ^= 1;
        RadiusPacket.TryParse(tampered, out var bad);
        Assert.False(RadiusAuthenticator.VerifyResponse(bad.Bytes, requestAuthenticator, Secret));
        // Our signing composes the same MD5: re-signing the example reproduces its authenticator.
        var resigned = (byte[])Rfc2865Accept.Clone();
        Array.Clear(resigned, 4, 16);
        RadiusAuthenticator.SignResponse(resigned, requestAuthenticator, Secret);
        Assert.Equal(Rfc2865Accept, resigned);
    }

    [Theory]
    [InlineData(new byte[] { 2, 0, 0, 19 }, RadiusParseStatus.Truncated)]
    [InlineData(new byte[] { 2, 0, 0, 19, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, RadiusParseStatus.BadLength)]
    [InlineData(new byte[] { 2, 0, 0x10, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, RadiusParseStatus.BadLength)]
    [InlineData(new byte[] { 2, 0, 0, 30, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, RadiusParseStatus.Truncated)]
    [InlineData(new byte[] { 2, 0, 0, 23, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0 }, RadiusParseStatus.BadAttribute)]
    [InlineData(new byte[] { 2, 0, 0, 23, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 4, 0 }, RadiusParseStatus.BadAttribute)]
    [InlineData(new byte[] { 2, 0, 0, 21, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 }, RadiusParseStatus.BadAttribute)]
    public void Malformed_packets_are_refused_with_a_status(byte[] datagram, RadiusParseStatus expected) =>
        Assert.Equal(expected, RadiusPacket.TryParse(datagram, out _));

    [Fact]
    public void Octets_past_Length_are_padding()
    {
        var padded = Rfc2865Accept.Concat(new byte[] { 0xff, 0xff, 0xff }).ToArray();
        Assert.Equal(RadiusParseStatus.Ok, RadiusPacket.TryParse(padded, out var packet));
        Assert.Equal(Rfc2865Accept.Length, packet.Bytes.Length);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(253)]
    [InlineData(254)]
    [InlineData(1020)]
    public void Eap_message_is_split_into_253_octet_attributes_and_reassembled(int size)
    {
        var eap = new byte[size];
        Random.Shared.NextBytes(eap);
        eap[2] = (byte)(size >> 8);
        eap[3] = (byte)size;
        var buffer = new byte[RadiusPacket.MaxLength];
        var writer = new RadiusWriter(buffer, RadiusCode.AccessChallenge, 7, new byte[16]);
        Assert.True(writer.TryAdd(RadiusAttributeType.State, "s"u8));
        Assert.True(RadiusAttribute.TryAddEapMessage(ref writer, eap));
        int length = writer.Finish();
        Assert.Equal(RadiusParseStatus.Ok, RadiusPacket.TryParse(buffer.AsSpan(0, length), out var packet));
        int pieces = 0;
        var reader = packet.Attributes;
        while (reader.TryNext(out var type, out var value))
        {
            if (type != RadiusAttributeType.EapMessage) continue;
            pieces++;
            Assert.InRange(value.Length, 1, 253);
        }
        Assert.Equal((size + 252) / 253, pieces);
        Assert.Equal(eap, RadiusAttribute.ReassembleEap(packet));
    }

    [Fact]
    public void Eap_message_whose_length_field_disagrees_is_not_reassembled()
    {
        var buffer = new byte[100];
        var writer = new RadiusWriter(buffer, RadiusCode.AccessChallenge, 7, new byte[16]);
        writer.TryAdd(RadiusAttributeType.EapMessage, new byte[] { 1, 2, 0, 9, 1 });
        RadiusPacket.TryParse(buffer.AsSpan(0, writer.Finish()), out var packet);
        Assert.Null(RadiusAttribute.ReassembleEap(packet));
    }

    [Fact]
    public void Message_authenticator_signed_by_a_server_verifies_and_any_change_breaks_it()
    {
        var requestAuth = new byte[16];
        Random.Shared.NextBytes(requestAuth);
        var (response, _) = SignedResponse(requestAuth, Secret, tamper: null);
        RadiusPacket.TryParse(response, out var packet);
        Assert.True(RadiusAuthenticator.VerifyMessageAuthenticator(packet, requestAuth, Secret));
        Assert.False(RadiusAuthenticator.VerifyMessageAuthenticator(packet, requestAuth, "other"u8));
        Assert.False(RadiusAuthenticator.VerifyMessageAuthenticator(packet, new byte[16], Secret));
        var (tampered, _) = SignedResponse(requestAuth, Secret, tamper: r => r[^1] ^= 1);
        RadiusPacket.TryParse(tampered, out var bad);
        Assert.False(RadiusAuthenticator.VerifyMessageAuthenticator(bad, requestAuth, Secret));
    }

    [Fact]
    public void A_response_without_or_with_two_message_authenticators_fails_verification()
    {
        var buffer = new byte[100];
        var writer = new RadiusWriter(buffer, RadiusCode.AccessAccept, 1, new byte[16]);
        writer.TryAdd(RadiusAttributeType.EapMessage, new byte[] { 3, 1, 0, 4 });
        RadiusPacket.TryParse(buffer.AsSpan(0, writer.Finish()), out var none);
        Assert.False(RadiusAuthenticator.VerifyMessageAuthenticator(none, new byte[16], Secret));
        writer = new RadiusWriter(buffer, RadiusCode.AccessAccept, 1, new byte[16]);
        writer.TryAdd(RadiusAttributeType.MessageAuthenticator, new byte[16]);
        writer.TryAdd(RadiusAttributeType.MessageAuthenticator, new byte[16]);
        RadiusPacket.TryParse(buffer.AsSpan(0, writer.Finish()), out var two);
        Assert.False(RadiusAuthenticator.VerifyMessageAuthenticator(two, new byte[16], Secret));
    }

    [Fact]
    public void Mppe_keys_decrypt_into_recv_then_send_padded_to_64_octets()
    {
        var requestAuth = new byte[16];
        Random.Shared.NextBytes(requestAuth);
        var send = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();
        var recv = Enumerable.Range(101, 32).Select(i => (byte)i).ToArray();
        var buffer = new byte[400];
        var writer = new RadiusWriter(buffer, RadiusCode.AccessAccept, 1, new byte[16]);
        writer.TryAdd(RadiusAttributeType.VendorSpecific, Vsa(MsMppeKey.SendKeyType, [0x80, 0x01], send, requestAuth));
        writer.TryAdd(RadiusAttributeType.VendorSpecific, Vsa(MsMppeKey.RecvKeyType, [0x80, 0x02], recv, requestAuth));
        RadiusPacket.TryParse(buffer.AsSpan(0, writer.Finish()), out var packet);
        var msk = MsMppeKey.DecryptMsk(packet, requestAuth, Secret);
        Assert.NotNull(msk);
        Assert.Equal(64, msk.Length);
        Assert.Equal(recv.Concat(send).ToArray(), msk);

        // Wrong secret: the Key-Length octet decrypts to garbage, so nothing or a wrong MSK, never the right one.
        var wrong = MsMppeKey.DecryptMsk(packet, requestAuth, "nope"u8);
        Assert.True(wrong is null || !wrong.SequenceEqual(msk));
    }

    [Fact]
    public void Mppe_key_with_salt_high_bit_clear_or_odd_length_is_refused()
    {
        var auth = new byte[16];
        Assert.Null(MsMppeKey.TryDecrypt([0x00, 0x01], new byte[32], auth, Secret));
        Assert.Null(MsMppeKey.TryDecrypt([0x80, 0x01], new byte[31], auth, Secret));
        Assert.Null(MsMppeKey.TryDecrypt([0x80, 0x01], [], auth, Secret));
    }

    [Fact]
    public void Framed_ip_address_and_class_are_read()
    {
        var buffer = new byte[100];
        var writer = new RadiusWriter(buffer, RadiusCode.AccessAccept, 1, new byte[16]);
        writer.TryAdd(RadiusAttributeType.FramedIpAddress, new byte[] { 10, 3, 0, 9 });
        writer.TryAdd(RadiusAttributeType.Class, "staff"u8);
        writer.TryAdd(RadiusAttributeType.Class, "vpn"u8);
        RadiusPacket.TryParse(buffer.AsSpan(0, writer.Finish()), out var packet);
        Assert.Equal(IPAddress.Parse("10.3.0.9"), RadiusAttribute.FramedAddress(packet));
        Assert.Equal(["staff", "vpn"], RadiusAttribute.Classes(packet).Select(Encoding.UTF8.GetString));
    }

    private static byte[] Vsa(byte vendorType, byte[] salt, byte[] key, byte[] requestAuth)
    {
        var encrypted = MsMppeKey.Encrypt(key, salt, requestAuth, Secret);
        var value = new byte[4 + 2 + 2 + encrypted.Length];
        value[3] = 0x37;
        value[2] = 0x01; // 311 = 0x137
        value[4] = vendorType;
        value[5] = (byte)(2 + 2 + encrypted.Length);
        salt.CopyTo(value, 6);
        encrypted.CopyTo(value, 8);
        return value;
    }

    internal static (byte[] Packet, int MacOffset) SignedResponse(byte[] requestAuth, byte[] secret, Action<byte[]>? tamper)
    {
        var buffer = new byte[200];
        var writer = new RadiusWriter(buffer, RadiusCode.AccessChallenge, 9, requestAuth);
        writer.TryAdd(RadiusAttributeType.EapMessage, new byte[] { 1, 5, 0, 5, 1 });
        int macOffset = writer.Length + 2;
        writer.TryAdd(RadiusAttributeType.MessageAuthenticator, new byte[16]);
        writer.TryAdd(RadiusAttributeType.State, "state"u8);
        int length = writer.Finish();
        var packet = buffer.AsSpan(0, length).ToArray();
        RadiusAuthenticator.SignMessageAuthenticator(packet, macOffset, [], secret);
        tamper?.Invoke(packet);
        RadiusAuthenticator.SignResponse(packet, requestAuth, secret);
        return (packet, macOffset);
    }
}

public sealed class RadiusFuzzSeedTests
{
    [Fact]
    public void The_signed_accept_seed_reaches_verification_and_the_msk()
    {
        var seed = Concentrator.Fuzz.RadiusResponseTarget.Seeds().Single(s => s.Name == "accept-mppe").Data;
        var datagram = seed[1..];
        // The target signs it; sign the same way here and check it verifies and carries keys.
        RadiusPacket.TryParse(datagram, out var unsigned);
        int mac = RadiusPacket.HeaderLength + 2;
        Assert.Equal(RadiusAttributeType.MessageAuthenticator, (RadiusAttributeType)datagram[RadiusPacket.HeaderLength]);
        RadiusAuthenticator.SignMessageAuthenticator(datagram, mac, [], Concentrator.Fuzz.RadiusResponseTarget.Secret);
        RadiusAuthenticator.SignResponse(datagram, Concentrator.Fuzz.RadiusResponseTarget.RequestAuthenticator, Concentrator.Fuzz.RadiusResponseTarget.Secret);
        RadiusPacket.TryParse(datagram, out var packet);
        Assert.Null(RadiusSocket.Verify(packet, RadiusCode.AccessRequest, Concentrator.Fuzz.RadiusResponseTarget.RequestAuthenticator,
            Concentrator.Fuzz.RadiusResponseTarget.Secret));
        var msk = MsMppeKey.DecryptMsk(packet, Concentrator.Fuzz.RadiusResponseTarget.RequestAuthenticator, Concentrator.Fuzz.RadiusResponseTarget.Secret);
        Assert.NotNull(msk);
        Assert.Equal(Enumerable.Repeat((byte)17, 32).Concat(Enumerable.Repeat((byte)16, 32)), msk);
        _ = unsigned;
    }
}

public sealed class RadiusRequestTests
{
    [Fact]
    public void Text_attributes_are_cut_to_253_octets_of_utf8()
    {
        var request = new RadiusRequest(RadiusCode.AccessRequest).Add(RadiusAttributeType.NasPortId, new string('é', 200));
        var (_, value) = Assert.Single(request.Attributes);
        Assert.Equal(253, value.Length);
        var packet = request.Encode(1, "s"u8, "nas", out _);
        Assert.NotNull(packet);
    }
}
