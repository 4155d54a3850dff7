using System.Text;

namespace CartActor.Tests.Shared.Http2;

/// <summary>
/// Enough HPACK (RFC 7541) to read a server's response headers and trailers: indexed fields, literals with and
/// without indexing, dynamic table size updates, the static and dynamic tables. Huffman-coded strings are
/// refused loudly (Kestrel writes plain literals; a decoder that guessed would make the test lie).
/// </summary>
internal sealed class HpackDecoder
{
    // RFC 7541 Appendix A.
    private static readonly (string Name, string Value)[] Static =
    [
        (":authority", ""), (":method", "GET"), (":method", "POST"), (":path", "/"), (":path", "/index.html"),
        (":scheme", "http"), (":scheme", "https"), (":status", "200"), (":status", "204"), (":status", "206"),
        (":status", "304"), (":status", "400"), (":status", "404"), (":status", "500"), ("accept-charset", ""),
        ("accept-encoding", "gzip, deflate"), ("accept-language", ""), ("accept-ranges", ""), ("accept", ""),
        ("access-control-allow-origin", ""), ("age", ""), ("allow", ""), ("authorization", ""), ("cache-control", ""),
        ("content-disposition", ""), ("content-encoding", ""), ("content-language", ""), ("content-length", ""),
        ("content-location", ""), ("content-range", ""), ("content-type", ""), ("cookie", ""), ("date", ""),
        ("etag", ""), ("expect", ""), ("expires", ""), ("from", ""), ("host", ""), ("if-match", ""),
        ("if-modified-since", ""), ("if-none-match", ""), ("if-range", ""), ("if-unmodified-since", ""),
        ("last-modified", ""), ("link", ""), ("location", ""), ("max-forwards", ""), ("proxy-authenticate", ""),
        ("proxy-authorization", ""), ("range", ""), ("referer", ""), ("refresh", ""), ("retry-after", ""),
        ("server", ""), ("set-cookie", ""), ("strict-transport-security", ""), ("transfer-encoding", ""),
        ("user-agent", ""), ("vary", ""), ("via", ""), ("www-authenticate", ""),
    ];

    private readonly LinkedList<(string Name, string Value)> _dynamic = new();
    private int _dynamicSize;
    private int _maxSize = 4096;

    public List<(string Name, string Value)> Decode(ReadOnlySpan<byte> block)
    {
        var fields = new List<(string, string)>();
        var i = 0;
        while (i < block.Length)
        {
            var b = block[i];
            if ((b & 0x80) != 0)
            {
                fields.Add(Entry(ReadInteger(block, ref i, 7)));
            }
            else if ((b & 0xC0) == 0x40)
            {
                var field = ReadLiteral(block, ref i, 6);
                fields.Add(field);
                Add(field);
            }
            else if ((b & 0xE0) == 0x20)
            {
                _maxSize = ReadInteger(block, ref i, 5);
                Evict();
            }
            else
            {
                // Without indexing (0000) or never indexed (0001): both 4-bit prefixes.
                fields.Add(ReadLiteral(block, ref i, 4));
            }
        }

        return fields;
    }

    private (string, string) ReadLiteral(ReadOnlySpan<byte> block, ref int i, int prefix)
    {
        var index = ReadInteger(block, ref i, prefix);
        var name = index == 0 ? ReadString(block, ref i) : Entry(index).Name;
        return (name, ReadString(block, ref i));
    }

    private (string Name, string Value) Entry(int index)
    {
        if (index >= 1 && index <= Static.Length)
        {
            return Static[index - 1];
        }

        var d = index - Static.Length - 1;
        if (d < 0 || d >= _dynamic.Count)
        {
            throw new InvalidDataException($"HPACK index {index} is outside both tables");
        }

        return _dynamic.ElementAt(d);
    }

    private void Add((string Name, string Value) field)
    {
        _dynamic.AddFirst(field);
        _dynamicSize += field.Name.Length + field.Value.Length + 32;
        Evict();
    }

    private void Evict()
    {
        while (_dynamicSize > _maxSize && _dynamic.Last is { } last)
        {
            _dynamicSize -= last.Value.Name.Length + last.Value.Value.Length + 32;
            _dynamic.RemoveLast();
        }
    }

    private static string ReadString(ReadOnlySpan<byte> block, ref int i)
    {
        var huffman = (block[i] & 0x80) != 0;
        var length = ReadInteger(block, ref i, 7);
        if (huffman)
        {
            throw new NotSupportedException("a Huffman-coded HPACK string (this test decoder reads plain literals only)");
        }

        var value = Encoding.ASCII.GetString(block.Slice(i, length));
        i += length;
        return value;
    }

    /// <summary>An HPACK integer with an N-bit prefix (RFC 7541 5.1); <paramref name="i"/> moves past it.</summary>
    private static int ReadInteger(ReadOnlySpan<byte> block, ref int i, int prefixBits)
    {
        var max = (1 << prefixBits) - 1;
        var value = block[i++] & max;
        if (value < max)
        {
            return value;
        }

        var shift = 0;
        byte next;
        do
        {
            next = block[i++];
            value += (next & 0x7F) << shift;
            shift += 7;
        }
        while ((next & 0x80) != 0);
        return value;
    }

    /// <summary>Appends an HPACK integer with an N-bit prefix whose high bits are <paramref name="flags"/>.</summary>
    public static void WriteInteger(List<byte> output, int value, int prefixBits, byte flags)
    {
        var max = (1 << prefixBits) - 1;
        if (value < max)
        {
            output.Add((byte)(flags | value));
            return;
        }

        output.Add((byte)(flags | max));
        value -= max;
        while (value >= 0x80)
        {
            output.Add((byte)((value & 0x7F) | 0x80));
            value >>= 7;
        }

        output.Add((byte)value);
    }

    /// <summary>A "literal header field without indexing, new name" (RFC 7541 6.2.2), plain strings.</summary>
    public static void WriteLiteralWithoutIndexing(List<byte> output, string name, string value)
    {
        output.Add(0x00);
        WriteInteger(output, name.Length, 7, 0);
        output.AddRange(Encoding.ASCII.GetBytes(name));
        WriteInteger(output, value.Length, 7, 0);
        output.AddRange(Encoding.ASCII.GetBytes(value));
    }
}
