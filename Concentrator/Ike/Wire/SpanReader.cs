using System.Buffers.Binary;

namespace Concentrator.Ike.Wire;

/// <summary>
/// Big-endian cursor over untrusted bytes. Every read checks the remaining length and
/// reports failure instead of throwing, so decoders can return <see cref="ParseStatus.Truncated"/>.
/// </summary>
public ref struct SpanReader
{
    private readonly ReadOnlySpan<byte> _data;
    private int _pos;

    public SpanReader(ReadOnlySpan<byte> data)
    {
        _data = data;
        _pos = 0;
    }

    public readonly int Position => _pos;
    public readonly int Remaining => _data.Length - _pos;
    public readonly ReadOnlySpan<byte> Rest => _data[_pos..];

    public bool TryReadUInt8(out byte value)
    {
        if (Remaining < 1) { value = 0; return false; }
        value = _data[_pos++];
        return true;
    }

    public bool TryReadUInt16(out ushort value)
    {
        if (Remaining < 2) { value = 0; return false; }
        value = BinaryPrimitives.ReadUInt16BigEndian(_data[_pos..]);
        _pos += 2;
        return true;
    }

    public bool TryReadUInt32(out uint value)
    {
        if (Remaining < 4) { value = 0; return false; }
        value = BinaryPrimitives.ReadUInt32BigEndian(_data[_pos..]);
        _pos += 4;
        return true;
    }

    public bool TryReadUInt64(out ulong value)
    {
        if (Remaining < 8) { value = 0; return false; }
        value = BinaryPrimitives.ReadUInt64BigEndian(_data[_pos..]);
        _pos += 8;
        return true;
    }

    public bool TryReadBytes(int count, out ReadOnlySpan<byte> value)
    {
        if (count < 0 || Remaining < count) { value = default; return false; }
        value = _data.Slice(_pos, count);
        _pos += count;
        return true;
    }

    public bool TrySkip(int count)
    {
        if (count < 0 || Remaining < count) return false;
        _pos += count;
        return true;
    }
}

/// <summary>
/// Big-endian writer over a caller-sized span. Encoders compute their length first, so an
/// overflow here is a programming error and throws (it never sees peer input).
/// </summary>
public ref struct SpanWriter
{
    private readonly Span<byte> _buffer;
    private int _pos;

    public SpanWriter(Span<byte> buffer)
    {
        _buffer = buffer;
        _pos = 0;
    }

    public readonly int Position => _pos;
    public readonly Span<byte> Written => _buffer[.._pos];

    public void WriteUInt8(byte value) => _buffer[_pos++] = value;

    public void WriteUInt16(ushort value)
    {
        BinaryPrimitives.WriteUInt16BigEndian(_buffer[_pos..], value);
        _pos += 2;
    }

    public void WriteUInt32(uint value)
    {
        BinaryPrimitives.WriteUInt32BigEndian(_buffer[_pos..], value);
        _pos += 4;
    }

    public void WriteUInt64(ulong value)
    {
        BinaryPrimitives.WriteUInt64BigEndian(_buffer[_pos..], value);
        _pos += 8;
    }

    public void WriteBytes(ReadOnlySpan<byte> value)
    {
        value.CopyTo(_buffer[_pos..]);
        _pos += value.Length;
    }

    public void WriteZeros(int count)
    {
        _buffer.Slice(_pos, count).Clear();
        _pos += count;
    }

    /// <summary>Reserves <paramref name="count"/> bytes to be patched later (e.g. a length field).</summary>
    public int Reserve(int count)
    {
        int at = _pos;
        _buffer.Slice(_pos, count).Clear();
        _pos += count;
        return at;
    }

    public readonly void PatchUInt16(int at, ushort value) => BinaryPrimitives.WriteUInt16BigEndian(_buffer[at..], value);
}
