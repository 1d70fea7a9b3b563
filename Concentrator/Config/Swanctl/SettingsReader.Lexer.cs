using System.Text;

namespace Concentrator.Config.Swanctl;

/// <summary>The lexer, after settings_lexer.l: its start conditions (values, references, include patterns, strings) are
/// the methods the parser calls after '=', ':' and 'include'.</summary>
internal sealed partial class SettingsReader
{
    private enum TokenKind { End, Error, Name, Open, Close, Equals, Colon, Comma, Dot }

    private readonly record struct Token(TokenKind Kind, string Text, SettingsPosition Position);

    /// <summary>Not in a section or key name: <c>[^#{}:.,="\r\n\t ]</c>.</summary>
    private static bool IsNameChar(char c) => c is not ('#' or '{' or '}' or ':' or '.' or ',' or '=' or '"' or '\r' or '\n' or '\t' or ' ');

    private Cursor? Current()
    {
        while (_files.Count > 0 && _files.Peek().AtEnd)
        {
            _files.Pop();
        }
        return _files.Count > 0 ? _files.Peek() : null;
    }

    /// <summary>Skips blanks and comments, and newlines too when <paramref name="newlines"/> (not inside an include's line).</summary>
    private static void SkipBlank(Cursor c, bool newlines)
    {
        while (!c.AtEnd)
        {
            char ch = c.Peek();
            if (ch is ' ' or '\t' or '\r')
            {
                c.Offset++;
            }
            else if (ch == '#')
            {
                while (!c.AtEnd && c.Peek() != '\n') c.Offset++;
            }
            else if (ch == '\n' && newlines)
            {
                c.Offset++;
                c.Line++;
            }
            else
            {
                return;
            }
        }
    }

    private Token Next()
    {
        while (true)
        {
            var c = Current();
            if (c is null) return new Token(TokenKind.End, "", _lastPosition);
            SkipBlank(c, newlines: true);
            if (c.AtEnd)
            {
                continue;
            }
            var at = _lastPosition = c.Position;
            char ch = c.Peek();
            switch (ch)
            {
                case '{': c.Offset++; return new Token(TokenKind.Open, "{", at);
                case '}': c.Offset++; return new Token(TokenKind.Close, "}", at);
                case '.': c.Offset++; return new Token(TokenKind.Dot, ".", at);
                case ',': c.Offset++; return new Token(TokenKind.Comma, ",", at);
                case ':': c.Offset++; return new Token(TokenKind.Colon, ":", at);
                case '=': c.Offset++; return new Token(TokenKind.Equals, "=", at);
                case '"': return new Token(TokenKind.Error, "unexpected string (quotes are for values and include patterns)", at);
            }
            int start = c.Offset;
            while (!c.AtEnd && IsNameChar(c.Peek())) c.Offset++;
            var name = c.Text[start..c.Offset];
            if (name == "include" && c.Peek() is ' ' or '\t' && IsInclude(c))
            {
                if (ReadInclude(c, at) is { } error) return new Token(TokenKind.Error, error, at);
                continue;
            }
            return new Token(TokenKind.Name, name, at);
        }
    }

    private SettingsPosition _lastPosition;

    /// <summary><c>"include"[\t ]+/[^=]</c>: blanks after the word, then anything but '=' (else it is a key named include).</summary>
    private static bool IsInclude(Cursor c)
    {
        int i = 0;
        while (c.Peek(i) is ' ' or '\t') i++;
        return c.Peek(i) is not ('=' or '\n' or '\0' or '#' or '}');
    }

    /// <summary>The include pattern (unquoted with \" \# \} \  escapes, or a string), its matches pushed to be read next.</summary>
    private string? ReadInclude(Cursor c, SettingsPosition at)
    {
        SkipBlank(c, newlines: false);
        var pattern = new StringBuilder();
        if (c.Peek() == '"')
        {
            c.Offset++;
            if (ReadString(c, pattern) is { } error) return error;
        }
        else
        {
            while (!c.AtEnd && c.Peek() is not ('#' or '}' or '\n' or '\t' or ' ' or '\r'))
            {
                if (c.Peek() == '\\' && c.Peek(1) is '"' or '#' or '}' or ' ')
                {
                    c.Offset++;
                }
                pattern.Append(c.Peek());
                c.Offset++;
            }
        }
        if (pattern.Length == 0) return "include without a pattern";
        if (c.Depth >= MaxIncludeDepth) return $"include nested deeper than {MaxIncludeDepth} files (an include loop?)";
        var matches = Matches(c, pattern.ToString(), at);
        for (int i = matches.Count - 1; i >= 0; i--)
        {
            Open(matches[i], c.Depth + 1, at);
        }
        return null;
    }

    /// <summary>
    /// After '=': words (<c>[^#}"\r\n\t ]+</c>) and strings up to the end of the line, a '#' or a '}' (left for the
    /// parser), joined by one space; null when there are none.
    /// </summary>
    private (string? Value, string? Error) ReadValue()
    {
        // The file that held '=': a value never continues in the file that included it.
        var c = _files.Count > 0 ? _files.Peek() : null;
        if (c is null) return (null, null);
        var parts = new List<string>();
        while (true)
        {
            while (c.Peek() is ' ' or '\t' or '\r') c.Offset++;
            if (c.AtEnd || c.Peek() is '\n' or '#' or '}') break;
            if (c.Peek() == '"')
            {
                c.Offset++;
                var text = new StringBuilder();
                if (ReadString(c, text) is { } error) return (null, error);
                parts.Add(text.ToString());
                continue;
            }
            int start = c.Offset;
            while (!c.AtEnd && c.Peek() is not ('#' or '}' or '"' or '\r' or '\n' or '\t' or ' ')) c.Offset++;
            parts.Add(c.Text[start..c.Offset]);
        }
        return (parts.Count == 0 ? null : string.Join(' ', parts), null);
    }

    /// <summary>A string after its opening quote: \n \r \t, backslash-newline joins lines, \x is x; unterminated is an error.</summary>
    private static string? ReadString(Cursor c, StringBuilder text)
    {
        while (true)
        {
            if (c.AtEnd) return "unterminated string (missing '\"')";
            char ch = c.Peek();
            c.Offset++;
            switch (ch)
            {
                case '"':
                    return null;
                case '\r':
                    continue;
                case '\n':
                    c.Line++;
                    text.Append('\n');
                    continue;
                case '\\':
                    if (c.AtEnd) return "unterminated string (a '\\' at the end of the file)";
                    char escaped = c.Peek();
                    c.Offset++;
                    if (escaped == '\r' && c.Peek() == '\n')
                    {
                        c.Offset++;
                        escaped = '\n';
                    }
                    switch (escaped)
                    {
                        case 'n': text.Append('\n'); break;
                        case 'r': text.Append('\r'); break;
                        case 't': text.Append('\t'); break;
                        case '\n': c.Line++; break;
                        default: text.Append(escaped); break;
                    }
                    continue;
                default:
                    text.Append(ch);
                    continue;
            }
        }
    }

    /// <summary>After <c>name :</c>: one reference, a dotted path (<c>{NAME}+(\.{NAME}+)*</c>), newlines and comments skipped.</summary>
    private Token NextReference()
    {
        var c = Current();
        if (c is null) return new Token(TokenKind.End, "", _lastPosition);
        SkipBlank(c, newlines: true);
        var at = c.Position;
        int start = c.Offset;
        while (!c.AtEnd && (IsNameChar(c.Peek()) || (c.Peek() == '.' && c.Offset > start && IsNameChar(c.Peek(1))))) c.Offset++;
        return c.Offset > start ? new Token(TokenKind.Name, c.Text[start..c.Offset], at) : Next();
    }
}
