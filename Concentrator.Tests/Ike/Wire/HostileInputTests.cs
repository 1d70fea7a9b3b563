using System.Buffers.Binary;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;
using static Concentrator.Tests.Ike.Wire.WireSamples;

namespace Concentrator.Tests.Ike.Wire;

/// <summary>Malformed datagrams: every one must come back as a non-Ok status, never as an exception.</summary>
public class HostileInputTests
{
    private static byte[] AuthLike() => IkeCodec.Encode(Header(ExchangeType.IkeAuth), AllPayloads());

    private static byte[] WithSk() => IkeCodec.Encode(Header(ExchangeType.IkeAuth),
        [NatSrc(), Vid(), new EncryptedPayload(PayloadType.IdInitiator, Bytes(96, 21))]);

    public static TheoryData<string> Valid => new() { "init", "auth", "sk" };

    private static byte[] Sample(string name) => name switch
    {
        "init" => IkeSaInit,
        "auth" => AuthLike(),
        _ => WithSk(),
    };

    [Fact]
    public void EmptyAndShortDatagrams_AreTruncated()
    {
        for (int len = 0; len < ProtocolConstants.IkeHeaderLength; len++)
        {
            Assert.Equal(ParseStatus.Truncated, IkeCodec.TryDecode(IkeSaInit.AsSpan(0, len), out var m));
            Assert.Null(m);
        }
    }

    [Theory]
    [MemberData(nameof(Valid))]
    public void TruncatedAtEveryLength_IsRejected(string name)
    {
        var full = Sample(name);
        Assert.Equal(ParseStatus.Ok, IkeCodec.TryDecode(full, out _));
        for (int len = 0; len < full.Length; len++)
        {
            // As received: the header Length no longer matches.
            var cut = full[..len];
            var status = IkeCodec.TryDecode(cut, out var m);
            Assert.Equal(len < 28 ? ParseStatus.Truncated : ParseStatus.BadLength, status);
            Assert.Null(m);

            // With the header Length patched, the payload chain itself must notice the cut.
            if (len >= 28)
            {
                var patched = FixHeaderLength(full[..len]);
                var chainStatus = IkeCodec.TryDecode(patched, out var pm);
                Assert.True(chainStatus is ParseStatus.Truncated or ParseStatus.BadLength, $"len {len}: {chainStatus}");
                Assert.Null(pm);
                Assert.NotEqual(ParseStatus.Ok, IkeCodec.TryDecodeChain((PayloadType)full[16], full.AsSpan(28, len - 28), []));
            }
        }
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(27u)]
    [InlineData(211u)]
    [InlineData(213u)]
    [InlineData(0xFFFFFFFFu)]
    public void HeaderLength_MustMatchDatagram(uint length)
    {
        var d = IkeSaInit;
        BinaryPrimitives.WriteUInt32BigEndian(d.AsSpan(24), length);
        Assert.Equal(ParseStatus.BadLength, IkeCodec.TryDecode(d, out var m));
        Assert.Null(m);
    }

    [Fact]
    public void TrailingBytes_AfterLastPayload_AreBadLength()
    {
        var d = FixHeaderLength([.. IkeSaInit, 0, 0, 0, 0]);
        Assert.Equal(ParseStatus.BadLength, IkeCodec.TryDecode(d, out _));
        var noPayloads = FixHeaderLength([.. IkeCodec.Encode(Header(ExchangeType.Informational), []), 1]);
        Assert.Equal(ParseStatus.BadLength, IkeCodec.TryDecode(noPayloads, out _));
        // Unpatched, the header itself disagrees.
        Assert.Equal(ParseStatus.BadLength, IkeCodec.TryDecode([.. IkeSaInit, 0], out _));
    }

    [Fact]
    public void WrongVersion_IsBadVersion()
    {
        Assert.Equal(ParseStatus.BadVersion, IkeCodec.TryDecode(WithByte(IkeSaInit, 17, 0x10), out _));
        Assert.Equal(ParseStatus.Ok, IkeCodec.TryDecode(WithByte(IkeSaInit, 17, 0x21), out _)); // minor version ignored
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void PayloadLength_BelowGenericHeader_IsBadLength(ushort length)
    {
        foreach (int at in IkeSaInitPayloadOffsets)
        {
            Assert.Equal(ParseStatus.BadLength, IkeCodec.TryDecode(WithUInt16(IkeSaInit, at + 2, length), out _));
        }
    }

    [Fact]
    public void PayloadLength_Oversized_OrUndersized_IsRejected()
    {
        var d = IkeSaInit;
        for (int i = 0; i < IkeSaInitPayloadOffsets.Length; i++)
        {
            int at = IkeSaInitPayloadOffsets[i];
            ushort length = BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(at + 2));
            int remaining = d.Length - at;
            // Past the end of the datagram.
            Assert.Equal(ParseStatus.BadLength, IkeCodec.TryDecode(WithUInt16(d, at + 2, (ushort)(remaining + 1)), out _));
            Assert.Equal(ParseStatus.BadLength, IkeCodec.TryDecode(WithUInt16(d, at + 2, 0xFFFF), out _));
            // Off by one either way: the chain falls out of step, which must be detected.
            foreach (int delta in new[] { -1, 1, -4, 4 })
            {
                var status = IkeCodec.TryDecode(WithUInt16(d, at + 2, (ushort)(length + delta)), out var m);
                Assert.True(status != ParseStatus.Ok, $"payload {i} length {length}{delta:+0;-0}: Ok");
                Assert.Null(m);
            }
        }

        // The last payload: exact statuses.
        int last = IkeSaInitPayloadOffsets[^1];
        Assert.Equal(ParseStatus.BadLength, IkeCodec.TryDecode(WithUInt16(d, last + 2, 27), out _));
        Assert.Equal(ParseStatus.BadLength, IkeCodec.TryDecode(WithUInt16(d, last + 2, 29), out _));
    }

    [Fact]
    public void InnerLengths_Oversized_OrUndersized_AreRejected()
    {
        var d = IkeSaInit;
        // SA body starts at 32: proposal length at 34, first transform length at 42, KE body at 80, Notify SPI size at 189.
        foreach (var (offset, value) in new (int, ushort)[] { (34, 43), (34, 45), (34, 0), (42, 11), (42, 13), (42, 0xFFFF) })
        {
            Assert.NotEqual(ParseStatus.Ok, IkeCodec.TryDecode(WithUInt16(d, offset, value), out _));
        }

        Assert.Equal(ParseStatus.InvalidSyntax, IkeCodec.TryDecode(WithByte(d, 39, 5), out _));  // Num Transforms 5 of 4
        Assert.Equal(ParseStatus.InvalidSyntax, IkeCodec.TryDecode(WithByte(d, 189, 4), out _)); // SPI size without protocol
        Assert.Equal(ParseStatus.InvalidSyntax, IkeCodec.TryDecode(WithUInt16(d, 150, 8), out _)); // Nonce of 4 octets
    }

    [Fact]
    public void NextPayloadChain_Errors()
    {
        var d = IkeSaInit;
        // Last payload claims a successor that is not there.
        Assert.Equal(ParseStatus.Truncated, IkeCodec.TryDecode(WithByte(d, IkeSaInitPayloadOffsets[^1], (byte)PayloadType.Nonce), out _));
        // Header names no payload although payloads follow.
        Assert.Equal(ParseStatus.BadLength, IkeCodec.TryDecode(WithByte(d, 16, 0), out _));
        // Header names the wrong first payload: the SA body read as a TS payload has zero selectors.
        Assert.Equal(ParseStatus.InvalidSyntax, IkeCodec.TryDecode(WithByte(d, 16, (byte)PayloadType.TsInitiator), out _));
        // Header names a payload but there are no bytes.
        Assert.Equal(ParseStatus.Truncated, IkeCodec.TryDecode(FixHeaderLength(WithByte(d, 16, 33)[..28]), out _));
        // A chain of 3-octet remainders.
        Assert.Equal(ParseStatus.Truncated, IkeCodec.TryDecode(FixHeaderLength([.. d[..^28], 0x2B, 0, 0]), out _));
    }

    [Fact]
    public void PayloadCount_FollowsTheConfiguredBound()
    {
        var vids = Enumerable.Range(0, 20).Select(_ => (Payload)new VendorIdPayload([1])).ToList();
        var bytes = IkeCodec.Encode(Header(ExchangeType.Informational), vids);
        Assert.Equal(ParseStatus.TooManyPayloads, IkeCodec.TryDecode(bytes, out _, out _, maxPayloads: 19));
        Assert.Equal(ParseStatus.Ok, IkeCodec.TryDecode(bytes, out var m, out _, maxPayloads: 20));
        Assert.Equal(20, m!.Payloads.Count);
        var inner = new List<Payload>();
        var chain = bytes.AsSpan(ProtocolConstants.IkeHeaderLength);
        Assert.Equal(ParseStatus.TooManyPayloads, IkeCodec.TryDecodeChain(PayloadType.VendorId, chain, inner, out _, maxPayloads: 10));
        Assert.Empty(inner);
    }

    [Fact]
    public void SelfReferencingChain_IsBounded()
    {
        // Every VID names another VID ("loops"): with the limit + 1 present the decoder stops at the limit.
        var vids = Enumerable.Range(0, WireLimits.MaxPayloadsPerMessage + 1).Select(_ => (Payload)new VendorIdPayload([])).ToList();
        var bytes = IkeCodec.Encode(Header(ExchangeType.Informational), vids);
        Assert.Equal(ParseStatus.TooManyPayloads, IkeCodec.TryDecode(bytes, out _));
        var ok = IkeCodec.Encode(Header(ExchangeType.Informational), vids[1..]);
        Assert.Equal(ParseStatus.Ok, IkeCodec.TryDecode(ok, out var m));
        Assert.Equal(WireLimits.MaxPayloadsPerMessage, m!.Payloads.Count);

        // The last VID still says "VID follows": runs out of bytes instead of looping (at the limit, the limit wins).
        Assert.Equal(ParseStatus.TooManyPayloads, IkeCodec.TryDecode(WithByte(ok, ok.Length - 4, (byte)PayloadType.VendorId), out _));
        var three = IkeCodec.Encode(Header(ExchangeType.Informational), vids[..3]);
        Assert.Equal(ParseStatus.Ok, IkeCodec.TryDecode(three, out _));
        Assert.Equal(ParseStatus.Truncated, IkeCodec.TryDecode(WithByte(three, three.Length - 4, (byte)PayloadType.VendorId), out _));
    }

    [Fact]
    public void Randomized_NeverThrows_AndRejectsBrokenInput()
    {
        var samples = new[] { IkeSaInit, AuthLike(), WithSk() };
        var rng = new Random(20240601);
        int ok = 0, rejected = 0;
        for (int i = 0; i < 20_000; i++)
        {
            byte[] buffer;
            bool mustFail;
            switch (i % 4)
            {
                case 0:
                {
                    // Random bytes: fail unless the header happens to be consistent.
                    buffer = new byte[rng.Next(0, 400)];
                    rng.NextBytes(buffer);
                    mustFail = buffer.Length < 28 || (buffer[17] >> 4) != 2 ||
                               BinaryPrimitives.ReadUInt32BigEndian(buffer.AsSpan(24)) != (uint)buffer.Length;
                    break;
                }
                case 1:
                {
                    // A valid header followed by random bytes.
                    buffer = new byte[28 + rng.Next(0, 400)];
                    rng.NextBytes(buffer);
                    IkeSaInit.AsSpan(0, 28).CopyTo(buffer);
                    buffer[16] = (byte)(rng.Next(2) == 0 ? rng.Next(33, 49) : rng.Next(256));
                    FixHeaderLength(buffer);
                    mustFail = false;
                    break;
                }
                case 2:
                {
                    // A valid message with a few octets changed after the header.
                    var s = samples[rng.Next(samples.Length)];
                    buffer = (byte[])s.Clone();
                    int flips = rng.Next(1, 5);
                    for (int f = 0; f < flips; f++) buffer[rng.Next(28, buffer.Length)] = (byte)rng.Next(256);
                    mustFail = false;
                    break;
                }
                default:
                {
                    // A valid message cut short (header Length patched), optionally with bytes changed.
                    var s = samples[rng.Next(samples.Length)];
                    buffer = FixHeaderLength(s[..rng.Next(28, s.Length)]);
                    mustFail = true;
                    break;
                }
            }

            var status = IkeCodec.TryDecode(buffer, out var message);
            Assert.Equal(status == ParseStatus.Ok, message is not null);
            if (mustFail) Assert.NotEqual(ParseStatus.Ok, status);
            if (status == ParseStatus.Ok)
            {
                ok++;
                // Whatever was accepted re-encodes to something accepted again, with the same payload types.
                var again = IkeCodec.Encode(message!.Header, message.Payloads);
                Assert.Equal(ParseStatus.Ok, IkeCodec.TryDecode(again, out var m2));
                Assert.Equal(message.Payloads.Select(p => p.Type), m2!.Payloads.Select(p => p.Type));
                PayloadRules.Check(message.Header.Exchange, message.Header.IsResponse, message.Payloads);
            }
            else
            {
                rejected++;
            }

            // The same bytes as SK contents.
            var into = new List<Payload>();
            var chain = buffer.Length > 28 ? buffer.AsSpan(28) : buffer.AsSpan();
            var chainStatus = IkeCodec.TryDecodeChain((PayloadType)rng.Next(256), chain, into);
            Assert.Equal(chainStatus == ParseStatus.Ok ? into.Count : 0, into.Count);
        }

        // The mix must exercise both outcomes, or the test proves nothing.
        Assert.InRange(ok, 100, 19_000);
        Assert.InRange(rejected, 5_000, 19_900);
    }
}
