using System.Globalization;
using System.Text.RegularExpressions;

namespace Concentrator.Tests.Telemetry;

/// <summary>A minimal reader of the Prometheus text exposition format, for asserting values.</summary>
internal sealed partial class MetricsText
{
    private readonly List<(string Name, Dictionary<string, string> Labels, double Value)> _samples = new();

    public MetricsText(string text)
    {
        Text = text;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            int brace = line.IndexOf('{');
            int space = line.LastIndexOf(' ');
            string name;
            var labels = new Dictionary<string, string>();
            if (brace >= 0 && brace < space)
            {
                name = line[..brace];
                int close = line.LastIndexOf('}');
                foreach (Match m in LabelPattern().Matches(line[(brace + 1)..close])) labels[m.Groups[1].Value] = m.Groups[2].Value;
            }
            else
            {
                name = line[..line.IndexOf(' ')];
            }
            _samples.Add((name, labels, double.Parse(line[(space + 1)..], CultureInfo.InvariantCulture)));
        }
    }

    public string Text { get; }

    public bool Has(string name) => _samples.Any(s => s.Name == name);

    /// <summary>Sum over every series of <paramref name="name"/> carrying all the given labels.</summary>
    public double Sum(string name, params (string Label, string Value)[] labels) =>
        Series(name, labels).Sum(s => s.Value);

    public IEnumerable<(Dictionary<string, string> Labels, double Value)> Series(string name, params (string Label, string Value)[] labels) =>
        _samples.Where(s => s.Name == name && labels.All(l => s.Labels.TryGetValue(l.Label, out var v) && v == l.Value))
            .Select(s => (s.Labels, s.Value));

    public IEnumerable<string> LabelValues(string name, string label) =>
        _samples.Where(s => s.Name == name && s.Labels.ContainsKey(label)).Select(s => s.Labels[label]).Distinct();

    [GeneratedRegex("""(\w+)="((?:[^"\\]|\\.)*)"(?:,|$)""")]
    private static partial Regex LabelPattern();
}
