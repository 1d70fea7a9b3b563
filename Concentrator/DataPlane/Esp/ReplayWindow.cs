using System.Numerics;

namespace Concentrator.DataPlane.Esp;

/// <summary>
/// Anti-replay window of one inbound SA (RFC 4303 §3.4.3) kept as the RFC 6479 ring of 64-bit
/// blocks: sliding right only clears whole blocks, never shifts bits. The ring holds one block more
/// than the window so the partly-filled block at the top never overlaps the oldest one.
/// With ESN the high 32 bits of a received sequence number are inferred from the window
/// (RFC 4303 Appendix A2.2) by <see cref="TryInfer"/>.
/// Two-phase use: <see cref="Check"/> before decryption (cheap reject), <see cref="Update"/> only
/// after the ICV verified, so a forged packet never moves the window.
/// Size 0 (swanctl replay_window = 0) turns the replay check off, as strongSwan does: any authentic nonzero
/// sequence number is accepted, while the top still follows the traffic over a <see cref="MinSize"/> span (ESN
/// inference and the replicated inbound mark use it).
/// Not thread-safe; owned by the worker that owns the inbound SPI.
/// </summary>
public sealed class ReplayWindow
{
    public const int MinSize = 32;
    public const int MaxSize = 65536;
    private const int BlockBits = 64;

    private readonly ulong[] _blocks;
    private readonly int _blockMask;
    private readonly int _span; // packets below the top that ESN inference places in the current sub-space
    private readonly bool _checks;
    private ulong _top; // highest authenticated sequence number, 0 before the first packet

    /// <param name="size">Requested window in packets, MinSize..MaxSize, rounded up to a multiple of 64; 0 for no replay check.</param>
    public ReplayWindow(int size)
    {
        if (size != 0)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(size, MinSize);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(size, MaxSize);
        }
        _checks = size != 0;
        _span = (Math.Max(size, MinSize) + BlockBits - 1) / BlockBits * BlockBits;
        Size = _checks ? _span : 0;
        int blocks = (int)BitOperations.RoundUpToPowerOf2((uint)(_span / BlockBits + 1));
        _blocks = new ulong[blocks];
        _blockMask = blocks - 1;
    }

    /// <summary>Effective window in packets (the requested size rounded up to a multiple of 64); 0: no replay check.</summary>
    public int Size { get; }

    /// <summary>Highest sequence number accepted so far (0 when none).</summary>
    public ulong Top => _top;

    /// <summary>
    /// RFC 4303 Appendix A2.2: the full 64-bit sequence number whose low half is
    /// <paramref name="seqLow"/>, guessed from the window position. False when the guess would
    /// fall below sequence number 1 (nothing to try; the packet is a replay or garbage).
    /// A wrong guess is harmless: the ICV, computed over the guessed high half, fails.
    /// </summary>
    public bool TryInfer(uint seqLow, out ulong seq)
    {
        uint tl = (uint)_top;
        uint th = (uint)(_top >> 32);
        uint w = (uint)_span;
        uint bottom = unchecked(tl - w + 1); // Tl - W + 1 modulo 2^32
        uint sh;
        if (tl >= w - 1)
        {
            // Case A: the window lies within one 2^32 sub-space.
            sh = seqLow >= bottom ? th : th + 1;
            if (seqLow < bottom && th == uint.MaxValue)
            {
                seq = 0;
                return false;
            }
        }
        else
        {
            // Case B: the window spans two sub-spaces.
            if (seqLow >= bottom)
            {
                if (th == 0)
                {
                    seq = 0;
                    return false;
                }
                sh = th - 1;
            }
            else
            {
                sh = th;
            }
        }
        seq = ((ulong)sh << 32) | seqLow;
        return seq != 0;
    }

    /// <summary>True when <paramref name="seq"/> is new: right of the top or an unseen slot in the window.</summary>
    public bool Check(ulong seq)
    {
        if (seq == 0)
            return false; // the first packet carries 1 (RFC 4303 §3.3.3)
        if (seq > _top || !_checks)
            return true;
        if (_top - seq >= (ulong)_span)
            return false;
        return (_blocks[(int)(seq / BlockBits) & _blockMask] & (1UL << (int)(seq % BlockBits))) == 0;
    }

    /// <summary>
    /// Starts the window at <paramref name="mark"/> as if every sequence number up to and including it had been received
    /// (an SA adopted from another node knows only the highest number that node accepted, not which ones below it
    /// arrived; marking only the top would let the W-1 packets below it be replayed once more). Numbers above the
    /// mark stay unseen. Call before the first packet.
    /// </summary>
    public void Restore(ulong mark)
    {
        _top = mark;
        if (mark == 0) return;
        Array.Fill(_blocks, ulong.MaxValue);
        int bit = (int)(mark % BlockBits);
        _blocks[(int)(mark / BlockBits) & _blockMask] = bit == BlockBits - 1 ? ulong.MaxValue : (1UL << (bit + 1)) - 1;
    }

    /// <summary>Marks <paramref name="seq"/> as received. Call only after its ICV verified and <see cref="Check"/> passed.</summary>
    public void Update(ulong seq)
    {
        if (seq > _top)
        {
            ulong currentBlock = _top / BlockBits;
            ulong newBlock = seq / BlockBits;
            ulong clear = newBlock - currentBlock;
            if (clear > (ulong)_blocks.Length)
                clear = (ulong)_blocks.Length;
            for (ulong i = 1; i <= clear; i++)
                _blocks[(int)((currentBlock + i) & (ulong)_blockMask)] = 0;
            _top = seq;
        }
        _blocks[(int)(seq / BlockBits) & _blockMask] |= 1UL << (int)(seq % BlockBits);
    }
}
