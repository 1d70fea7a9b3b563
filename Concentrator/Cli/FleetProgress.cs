namespace Concentrator.Cli;

/// <summary>
/// Progress of a peer fleet: a one-line bar redrawn in place on a terminal; a plain line every 10% otherwise
/// (logs and pipes get no carriage returns).
/// </summary>
public sealed class FleetProgress(int total, TextWriter writer, bool interactive)
{
    private int _lastDecile = -1;

    public void Update(int up, int failed, int _)
    {
        int done = up + failed;
        if (interactive)
        {
            int width = 40, filled = total == 0 ? width : Math.Min(width, done * width / total);
            writer.Write($"\r  [{new string('#', filled)}{new string('.', width - filled)}] {up}/{total} up, {failed} failed ");
            return;
        }

        int decile = total == 0 ? 10 : done * 10 / total;
        if (decile == _lastDecile) return;
        _lastDecile = decile;
        writer.WriteLine($"  {up}/{total} up, {failed} failed");
    }

    public void Finish()
    {
        if (interactive) writer.WriteLine();
    }
}
