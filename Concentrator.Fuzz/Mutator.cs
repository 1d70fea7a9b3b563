namespace Concentrator.Fuzz;

/// <summary>
/// A small deterministic byte mutator (AFL-style havoc: bit flips, interesting values, arithmetic, block
/// insert/delete/duplicate, splicing) so that CI exercises the targets without AFL.
/// </summary>
public sealed class Mutator(int seed)
{
    private readonly Random _random = new(seed);

    private static readonly byte[] Interesting8 = [0, 1, 0x7f, 0x80, 0xff, 4, 8, 16, 28, 32, 33, 34, 35, 36, 37, 41, 46, 47, 48, 53, 59, 64];
    private static readonly ushort[] Interesting16 = [0, 1, 3, 4, 5, 8, 28, 0x7f, 0x80, 0xff, 0x100, 0x3fff, 0x4000, 0x7fff, 0x8000, 0xffff];
    private static readonly uint[] Interesting32 = [0, 1, 28, 0x7fffffff, 0x80000000, 0xffffffff, 0xC0FFEE01];

    public byte[] Mutate(IReadOnlyList<byte[]> pool)
    {
        var data = new List<byte>(pool[_random.Next(pool.Count)]);
        int rounds = 1 << _random.Next(0, 4);
        for (int i = 0; i < rounds; i++) MutateOnce(data, pool);
        return data.ToArray();
    }

    private void MutateOnce(List<byte> data, IReadOnlyList<byte[]> pool)
    {
        int op = _random.Next(10);
        if (data.Count == 0 && op < 7) op = 7;
        switch (op)
        {
            case 0: // flip one bit
            {
                int i = _random.Next(data.Count);
                data[i] ^= (byte)(1 << _random.Next(8));
                break;
            }
            case 1: // interesting byte
                data[_random.Next(data.Count)] = Interesting8[_random.Next(Interesting8.Length)];
                break;
            case 2: // random byte
                data[_random.Next(data.Count)] = (byte)_random.Next(256);
                break;
            case 3: // add/subtract small value
            {
                int i = _random.Next(data.Count);
                data[i] = unchecked((byte)(data[i] + _random.Next(-16, 17)));
                break;
            }
            case 4: // interesting 16-bit big-endian (lengths, types)
            {
                if (data.Count < 2) goto case 2;
                int i = _random.Next(data.Count - 1);
                ushort v = Interesting16[_random.Next(Interesting16.Length)];
                data[i] = (byte)(v >> 8);
                data[i + 1] = (byte)v;
                break;
            }
            case 5: // interesting 32-bit big-endian
            {
                if (data.Count < 4) goto case 2;
                int i = _random.Next(data.Count - 3);
                uint v = Interesting32[_random.Next(Interesting32.Length)];
                for (int k = 0; k < 4; k++) data[i + k] = (byte)(v >> (24 - 8 * k));
                break;
            }
            case 6: // delete a block
            {
                int i = _random.Next(data.Count);
                data.RemoveRange(i, Math.Min(data.Count - i, 1 + _random.Next(16)));
                break;
            }
            case 7: // insert random bytes
            {
                int i = _random.Next(data.Count + 1);
                int n = 1 + _random.Next(16);
                for (int k = 0; k < n; k++) data.Insert(i, (byte)_random.Next(256));
                break;
            }
            case 8: // duplicate a block
            {
                if (data.Count == 0) goto case 7;
                int i = _random.Next(data.Count);
                int n = Math.Min(data.Count - i, 1 + _random.Next(32));
                data.InsertRange(_random.Next(data.Count + 1), data.GetRange(i, n));
                break;
            }
            default: // splice: keep a prefix, take the tail of another seed
            {
                var other = pool[_random.Next(pool.Count)];
                int cut = _random.Next(data.Count + 1);
                int from = _random.Next(other.Length + 1);
                data.RemoveRange(cut, data.Count - cut);
                data.AddRange(other.AsSpan(from).ToArray());
                break;
            }
        }
    }
}
