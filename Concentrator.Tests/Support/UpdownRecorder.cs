namespace Concentrator.Tests.Support;

/// <summary>
/// A test-written updown script that appends its whole environment, between BEGIN and END lines, to a log beside it;
/// <see cref="Runs"/> reads back one dictionary per run, in order.
/// </summary>
public sealed class UpdownRecorder
{
    public UpdownRecorder(string dir, string body = "", bool executable = true)
    {
        Script = Path.Combine(dir, "updown.sh");
        Log = Path.Combine(dir, "env.log");
        File.WriteAllText(Script, $"#!/bin/sh\n{{ echo BEGIN; env | sort; echo END; }} >> '{Log}'\n{body}\n");
        File.SetUnixFileMode(Script, executable
            ? UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            : UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    public string Script { get; }
    public string Log { get; }

    public List<Dictionary<string, string>> Runs()
    {
        var runs = new List<Dictionary<string, string>>();
        if (!File.Exists(Log)) return runs;
        Dictionary<string, string>? run = null;
        foreach (var line in File.ReadAllLines(Log))
        {
            if (line == "BEGIN") run = new();
            else if (line == "END" && run is not null) runs.Add(run);
            else if (run is not null && line.IndexOf('=') is > 0 and var eq) run[line[..eq]] = line[(eq + 1)..];
        }
        return runs;
    }
}
