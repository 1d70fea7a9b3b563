using System.Security.Cryptography;
using Concentrator.Ike.Wire;
using Concentrator.Ipsec;

namespace Concentrator.Ike.Sa;

/// <summary>What became of one IKE fragment offered to a <see cref="FragmentReassembly"/>.</summary>
internal enum FragmentResult
{
    /// <summary>Kept (or, from <see cref="FragmentReassembly.Check"/>, worth verifying and keeping).</summary>
    Kept,
    /// <summary>The last missing fragment: <see cref="FragmentReassembly.Take"/> yields the message.</summary>
    Complete,
    Duplicate,
    /// <summary>Fewer Total Fragments than the reassembly in progress: discarded (RFC 7383 §2.6).</summary>
    Stale,
    /// <summary>Total Fragments above <see cref="WireLimits.MaxFragments"/>.</summary>
    TooMany,
    /// <summary>The message would pass charon.max_packet: the reassembly is dropped.</summary>
    TooLarge,
    /// <summary>charon.fragment_memory is used up: this fragment is dropped, the others stay.</summary>
    NoMemory,
}

/// <summary>A reassembled message: its first inner payload, the inner chain (the caller zeroes it), the first fragment as received
/// (what a retransmission of the request is recognised by) and the clear payloads in front of the first fragment's SKF.</summary>
internal sealed record ReassembledMessage(PayloadType First, byte[] Chain, byte[] FirstDatagram, List<Payload> Outer);

/// <summary>
/// One message being reassembled from SKF fragments (RFC 7383 §2.6), after strongSwan's message_t defragmentation: one per
/// direction per SA, for the one message ID the task manager takes in that direction. Only fragments that passed their
/// integrity check are added (<see cref="Check"/> runs before and changes nothing, so unauthenticated input never alters it).
/// A fragment of another message, or one with more Total Fragments (the peer re-fragmented, §2.5.3), starts over. Bounds:
/// <see cref="WireLimits.MaxFragments"/> fragments, charon.max_packet octets of content (padding is not kept) plus the
/// first fragment's datagram, and the node's
/// <see cref="ReassemblyBudget"/>; every octet held is counted there and given back by <see cref="Take"/> or
/// <see cref="Clear"/>, which zero the plaintext. Not thread-safe; owned by the SA's task manager.
/// </summary>
internal sealed class FragmentReassembly(ReassemblyBudget budget)
{
    private byte[]?[] _parts = [];
    private int[] _lengths = [];
    private int _received;
    private int _contentBytes;
    private uint _messageId;
    private ExchangeType _exchange;
    private int _total;
    private PayloadType _first;
    private byte[] _firstDatagram = [];
    private List<Payload> _outer = [];

    /// <summary>Octets this reassembly holds of the node's budget.</summary>
    public int HeldBytes { get; private set; }

    public bool InProgress => _total != 0;

    /// <summary>Whether a fragment with these (not yet verified) header fields could be kept: no state changes here.</summary>
    public FragmentResult Check(uint messageId, ExchangeType exchange, ushort number, ushort total)
    {
        if (total > WireLimits.MaxFragments) return FragmentResult.TooMany;
        if (!Same(messageId, exchange)) return FragmentResult.Kept;
        if (total < _total) return FragmentResult.Stale;
        return total == _total && _parts[number - 1] is not null ? FragmentResult.Duplicate : FragmentResult.Kept;
    }

    /// <summary>
    /// Adds a verified fragment: <paramref name="content"/> (its first <paramref name="contentLength"/> octets are the piece)
    /// is owned by the reassembly from here on and zeroed; the piece alone is kept. <paramref name="datagram"/> and <paramref name="outer"/> are
    /// kept from the first fragment only.
    /// </summary>
    public FragmentResult Add(uint messageId, ExchangeType exchange, ushort number, ushort total, PayloadType first,
        byte[] content, int contentLength, byte[] datagram, List<Payload> outer, int maxPacket)
    {
        var verdict = Check(messageId, exchange, number, total);
        if (verdict != FragmentResult.Kept) return Discard(content, verdict);
        if (!Same(messageId, exchange) || total > _total) Start(messageId, exchange, total);
        if (_contentBytes + contentLength > maxPacket)
        {
            // strongSwan drops the whole reassembly: such a message is never accepted.
            Clear();
            return Discard(content, FragmentResult.TooLarge);
        }

        // Only the piece is kept, never its padding: a peer may pad each fragment by 255 octets, which would let 255
        // fragments hold 64 kB past max_packet. So an SA holds at most max_packet and the first datagram per direction.
        int cost = contentLength + (number == 1 ? datagram.Length : 0);
        if (!budget.TryTake(cost)) return Discard(content, FragmentResult.NoMemory);
        HeldBytes += cost;
        _parts[number - 1] = content.AsSpan(0, contentLength).ToArray();
        CryptographicOperations.ZeroMemory(content);
        _lengths[number - 1] = contentLength;
        _contentBytes += contentLength;
        if (number == 1)
        {
            _first = first;
            _firstDatagram = datagram;
            _outer = outer;
        }

        return ++_received == _total ? FragmentResult.Complete : FragmentResult.Kept;
    }

    /// <summary>After <see cref="FragmentResult.Complete"/>: the message, and the reassembly cleared.</summary>
    public ReassembledMessage Take()
    {
        if (_total == 0 || _received != _total) throw new InvalidOperationException("the message is not complete");
        var chain = new byte[_contentBytes];
        int offset = 0;
        for (int i = 0; i < _total; i++)
        {
            _parts[i].AsSpan(0, _lengths[i]).CopyTo(chain.AsSpan(offset));
            offset += _lengths[i];
        }

        var message = new ReassembledMessage(_first, chain, _firstDatagram, _outer);
        Clear();
        return message;
    }

    /// <summary>Drops whatever is held (zeroed) and gives its octets back.</summary>
    public void Clear()
    {
        foreach (var part in _parts)
        {
            if (part is not null) CryptographicOperations.ZeroMemory(part);
        }

        budget.Give(HeldBytes);
        HeldBytes = 0;
        _parts = [];
        _lengths = [];
        _received = 0;
        _contentBytes = 0;
        _total = 0;
        _first = PayloadType.None;
        _firstDatagram = [];
        _outer = [];
    }

    private bool Same(uint messageId, ExchangeType exchange) => _total != 0 && messageId == _messageId && exchange == _exchange;

    private void Start(uint messageId, ExchangeType exchange, int total)
    {
        Clear();
        _messageId = messageId;
        _exchange = exchange;
        _total = total;
        _parts = new byte[total][];
        _lengths = new int[total];
    }

    private static FragmentResult Discard(byte[] content, FragmentResult result)
    {
        CryptographicOperations.ZeroMemory(content);
        return result;
    }
}
