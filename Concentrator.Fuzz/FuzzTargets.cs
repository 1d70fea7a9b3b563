using System.Buffers.Binary;
using System.Net;
using System.Text;
using Concentrator.Config;
using Concentrator.DataPlane;
using Concentrator.Ike.Crypto;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;

namespace Concentrator.Fuzz;

/// <summary>
/// The fuzz targets, shared by the AFL/libFuzzer entry point (<see cref="Program"/>) and the in-process
/// regression tests (Concentrator.Tests/Fuzz). The parsers' targets are here; the state machine (<see cref="IkeSaTarget"/>),
/// ESP past its ICV (<see cref="EspOpenTarget"/>), the replicated snapshots (<see cref="ReplicaTarget"/>) and fragment
/// reassembly (<see cref="IkeFragTarget"/>) and the RADIUS client's responses (<see cref="RadiusResponseTarget"/>) have files of their own. A target returns normally for every input whose outcome is
/// documented (a non-Ok <see cref="ParseStatus"/>/<see cref="EspStatus"/>, or <see cref="ConfigException"/>
/// for config); any exception escaping <see cref="Run"/> is a crash.
/// </summary>
public static class FuzzTargets
{
    public const string IkeMessage = "ike-message";
    public const string IkeChain = "ike-chain";
    public const string SkOpen = "sk-open";
    public const string EspDecap = "esp-decap";
    public const string Config = "config";
    public const string IkeStateMachine = "ike-sa";
    public const string EspOpen = "esp-open";
    public const string Replica = "replica";
    public const string IkeFrag = "ike-frag";
    public const string RadiusResponse = "radius-response";
    public const string IkeV1Message = "ikev1-message";
    public const string IkeV1Protect = "ikev1-protect";
    public const string IkeV1StateMachine = "ikev1-sa";

    public static readonly IReadOnlyList<string> All = [IkeMessage, IkeChain, SkOpen, EspDecap, Config, IkeStateMachine, EspOpen, Replica, IkeFrag, RadiusResponse, IkeV1Message, IkeV1Protect, IkeV1StateMachine];

    /// <summary>Runs one input through a target; throws only on a crash (an undocumented exception).</summary>
    public static void Run(string target, ReadOnlySpan<byte> input)
    {
        switch (target)
        {
            case IkeMessage: RunIkeMessage(input); break;
            case IkeChain: RunIkeChain(input); break;
            case SkOpen: RunSkOpen(input); break;
            case EspDecap: RunEspDecap(input); break;
            case Config: RunConfig(input); break;
            case IkeStateMachine: IkeSaTarget.Run(input); break;
            case EspOpen: EspOpenTarget.Run(input); break;
            case Replica: ReplicaTarget.Run(input); break;
            case IkeFrag: IkeFragTarget.Run(input); break;
            case RadiusResponse: RadiusResponseTarget.Run(input); break;
            case IkeV1Message: IkeV1MessageTarget.Run(input); break;
            case IkeV1Protect: IkeV1ProtectTarget.Run(input); break;
            case IkeV1StateMachine: IkeV1SaTarget.Execute(input); break;
            default: throw new ArgumentException($"unknown fuzz target '{target}' (known: {string.Join(", ", All)})", nameof(target));
        }
    }

    // ---- ike-message: the whole datagram, then the per-exchange rules on the clear payloads ----

    public static void RunIkeMessage(ReadOnlySpan<byte> input)
    {
        var status = IkeCodec.TryDecode(input, out var message, out _);
        if (status != ParseStatus.Ok) return;
        if (message is null) throw new InvalidOperationException("TryDecode returned Ok without a message");
        PayloadRules.Check(message.Header.Exchange, message.Header.IsResponse, message.Payloads);
    }

    // ---- ike-chain: input[0] is the first payload type, the rest is the chain (SK contents) ----

    public static void RunIkeChain(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty) return;
        var payloads = new List<Payload>();
        var status = IkeCodec.TryDecodeChain((PayloadType)input[0], input[1..], payloads, out _);
        if (status != ParseStatus.Ok) return;
        // Notification data with a format of its own (RFC 4555 §4.2.6), parsed from inside SK like the payloads.
        foreach (var notify in payloads.OfType<NotifyPayload>().Where(n => n.NotifyType == NotifyType.NoNatsAllowed))
        {
            NoNatsAllowed.TryParse(notify.Data, out _);
        }
        foreach (var exchange in SkExchanges)
        {
            PayloadRules.Check(exchange, false, payloads);
            PayloadRules.Check(exchange, true, payloads);
        }
    }

    private static readonly ExchangeType[] SkExchanges = [ExchangeType.IkeAuth, ExchangeType.CreateChildSa, ExchangeType.Informational];

    // ---- sk-open: header + SK built from the input, opened with a fixed key ----
    //
    // input[0]  selector: bit 0 = suite (0 AES-GCM-16/256, 1 AES-CBC-256 + HMAC-SHA2-256-128),
    //           bits 1-2 = exchange (IKE_AUTH, CREATE_CHILD_SA, INFORMATIONAL, IKE_AUTH), bit 3 = response
    // input[1]  the SK payload's Next Payload (first inner payload type)
    // input[2..] the SK body: IV | ciphertext | ICV
    // The header (fixed SPIs, message ID 1, Length = total) is part of the AAD / ICV input, so the seed
    // generator seals with the same layout (SkMessage).

    public const ulong SkSpiI = 0x0102030405060708;
    public const ulong SkSpiR = 0x1112131415161718;

    public static readonly IkeSuite SkSuiteGcm = new(EncrAlgorithm.AesGcm16, 256, PrfAlgorithm.HmacSha2_256, IntegAlgorithm.None, DhGroup.None);
    public static readonly IkeSuite SkSuiteCbc = new(EncrAlgorithm.AesCbc, 256, PrfAlgorithm.HmacSha2_256, IntegAlgorithm.HmacSha2_256_128, DhGroup.None);

    /// <summary>Fixed keys of the sk-open target (the initiator sends, the target opens as responder).</summary>
    public static IkeKeys SkKeys(IkeSuite suite)
    {
        int enc = Algorithms.EncryptionKeyMaterialLength(suite.Encryption, suite.KeyBits);
        int integ = suite.Integrity == IntegAlgorithm.None ? 0 : Algorithms.IntegrityKeyLength(suite.Integrity);
        return new IkeKeys
        {
            SkEi = Pattern(enc, 0x10), SkEr = Pattern(enc, 0x20),
            SkAi = Pattern(integ, 0x30), SkAr = Pattern(integ, 0x40),
            SkD = Pattern(32, 0x50), SkPi = Pattern(32, 0x60), SkPr = Pattern(32, 0x70),
        };
    }

    // Built once: the protector holds no per-message state on the receive path.
    private static readonly IkeMessageProtector SkOpenerGcm = new(SkSuiteGcm, SkKeys(SkSuiteGcm), weAreInitiator: false);
    private static readonly IkeMessageProtector SkOpenerCbc = new(SkSuiteCbc, SkKeys(SkSuiteCbc), weAreInitiator: false);

    public static IkeSuite SkSuite(byte selector) => (selector & 1) == 0 ? SkSuiteGcm : SkSuiteCbc;

    /// <summary>The IKE header the sk-open target puts in front of the SK payload for a selector.</summary>
    public static IkeHeader SkHeader(byte selector, uint length)
    {
        var exchange = ((selector >> 1) & 3) switch
        {
            1 => ExchangeType.CreateChildSa,
            2 => ExchangeType.Informational,
            _ => ExchangeType.IkeAuth,
        };
        bool response = (selector & 8) != 0;
        var flags = response ? IkeFlags.Response : IkeFlags.Initiator;
        return new IkeHeader(SkSpiI, SkSpiR, PayloadType.Encrypted, 2, 0, exchange, flags, 1, length);
    }

    /// <summary>header | SK generic header | body, as the sk-open target sees the input.</summary>
    public static byte[] SkMessage(ReadOnlySpan<byte> input)
    {
        byte selector = input[0];
        var body = input[2..];
        int skLength = ProtocolConstants.GenericPayloadHeaderLength + body.Length;
        int total = ProtocolConstants.IkeHeaderLength + skLength;
        var datagram = new byte[total];
        SkHeader(selector, (uint)total).Write(datagram);
        int sk = ProtocolConstants.IkeHeaderLength;
        datagram[sk] = input[1];
        // A body too long for the 16-bit length is written truncated: the codec must reject it, not crash.
        BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(sk + 2), (ushort)skLength);
        body.CopyTo(datagram.AsSpan(sk + ProtocolConstants.GenericPayloadHeaderLength));
        return datagram;
    }

    public static void RunSkOpen(ReadOnlySpan<byte> input)
    {
        if (input.Length < 2) return;
        var datagram = SkMessage(input);
        if (IkeCodec.TryDecode(datagram, out var message) != ParseStatus.Ok) return;
        var opener = (input[0] & 1) == 0 ? SkOpenerGcm : SkOpenerCbc;
        if (opener.TryOpen(datagram, message!) != ParseStatus.Ok) return;
        PayloadRules.Check(message!.Header.Exchange, message.Header.IsResponse, message.Payloads);
    }

    // ---- esp-decap: one fixed SA, the input's SPI patched to it ----
    //
    // input[0]  selector: bit 0 = suite (0 AES-GCM-16/256, 1 AES-CBC-128 + HMAC-SHA2-256-128)
    // input[1..] the ESP packet (SPI | Sequence | IV | ciphertext | ICV); its SPI is replaced by EspSpi.
    // A fresh plane per input keeps the replay window from making the target stateful.

    public const uint EspSpi = 0xC0FFEE01;
    public const uint EspPeerSpi = 0xC0FFEE02;

    public static readonly EspSuite EspSuiteGcm = new(EncrAlgorithm.AesGcm16, 256, IntegAlgorithm.None, DhGroup.None, false);
    public static readonly EspSuite EspSuiteCbc = new(EncrAlgorithm.AesCbc, 128, IntegAlgorithm.HmacSha2_256_128, DhGroup.None, false);

    public static EspSuite EspSuite(byte selector) => (selector & 1) == 0 ? EspSuiteGcm : EspSuiteCbc;

    /// <summary>The target's SA; <paramref name="peer"/> gives the mirror image (whose outbound is the target's inbound).</summary>
    public static ChildSaInstall EspInstall(EspSuite suite, bool peer)
    {
        int enc = Algorithms.EncryptionKeyMaterialLength(suite.Encryption, suite.KeyBits);
        int integ = suite.Integrity == IntegAlgorithm.None ? 0 : Algorithms.IntegrityKeyLength(suite.Integrity);
        byte[] inE = Pattern(enc, 0x81), inA = Pattern(integ, 0x82), outE = Pattern(enc, 0x83), outA = Pattern(integ, 0x84);
        var local = new IPEndPoint(IPAddress.Parse("192.0.2.2"), 4500);
        var remote = new IPEndPoint(IPAddress.Parse("192.0.2.1"), 4500);
        TrafficSelector[] any4 = [new(TsType.Ipv4AddressRange, 0, 0, 65535, IPAddress.Any, IPAddress.Broadcast)];
        return peer
            ? new ChildSaInstall(EspPeerSpi, EspSpi, suite, outE, outA, inE, inA, any4, any4, remote, local,
                EspTransport.UdpEncapsulated, 64, "fuzz", "fuzz")
            : new ChildSaInstall(EspSpi, EspPeerSpi, suite, inE, inA, outE, outA, any4, any4, local, remote,
                EspTransport.UdpEncapsulated, 64, "fuzz", "fuzz");
    }

    public static void RunEspDecap(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty) return;
        var packet = input[1..].ToArray();
        if (packet.Length >= 4) BinaryPrimitives.WriteUInt32BigEndian(packet, EspSpi);
        using var plane = new InMemoryDataPlane();
        plane.AddSa(EspInstall(EspSuite(input[0]), peer: false));
        var status = plane.Decapsulate(packet, out var inner);
        if (status == EspStatus.Ok)
        {
            // The inner range must lie inside the packet.
            var (offset, length) = inner.GetOffsetAndLength(packet.Length);
            _ = packet.AsSpan(offset, length);
        }
    }

    // ---- config: YAML as UTF-8; ConfigException is the documented outcome ----

    public static void RunConfig(ReadOnlySpan<byte> input)
    {
        string yaml = Encoding.UTF8.GetString(input);
        try
        {
            ConcentratorConfig.Parse(yaml, "<fuzz>");
        }
        catch (ConfigException)
        {
        }
    }

    private static byte[] Pattern(int length, byte seed)
    {
        var key = new byte[length];
        for (int i = 0; i < length; i++) key[i] = (byte)(seed + i);
        return key;
    }
}
