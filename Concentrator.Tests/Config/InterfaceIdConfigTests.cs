using Concentrator.Config;
using Concentrator.Hosting;

namespace Concentrator.Tests.Config;

/// <summary>swanctl's if_id_in / if_id_out: connection defaults, child values, numbers only, and what they refuse.</summary>
public class InterfaceIdConfigTests
{
    private const string File = "test.yaml";

    private static string Conn(string connBody, string childBody, string tunnel = "") => $"""
        {tunnel}
        connections:
          cloud:
            remote_addrs: [192.0.2.1]
        {Indent(connBody, 4)}
            children:
              t1:
                local_ts: 0.0.0.0/0
                remote_ts: 0.0.0.0/0
        {Indent(childBody, 8)}
              t2:
                local_ts: 0.0.0.0/0
                remote_ts: 0.0.0.0/0
        """;

    private static string Indent(string text, int n) =>
        string.Join('\n', text.Split('\n').Select(l => l.Length == 0 ? l : new string(' ', n) + l));

    private static ConfigException Fails(string yaml)
    {
        var e = Assert.Throws<ConfigException>(() => ConcentratorConfig.Parse(yaml, File));
        Assert.Equal(File, e.File);
        return e;
    }

    [Fact]
    public void Children_take_their_own_ids_else_the_connections_in_decimal_or_hex()
    {
        var c = ConcentratorConfig.Parse(Conn("if_id_in: 0x10\nif_id_out: 16", "if_id_in: 1\nif_id_out: 0X2"), File);
        var t1 = c.Connections["cloud"].Children["t1"];
        var t2 = c.Connections["cloud"].Children["t2"];
        Assert.Equal((1u, 2u), (t1.InterfaceIdIn, t1.InterfaceIdOut));
        Assert.Equal((16u, 16u), (t2.InterfaceIdIn, t2.InterfaceIdOut));
        Assert.Equal([1u, 2u, 16u], ConfigLoader.InterfaceIdsInUse(c.Connections.Values));
        Assert.Equal([1u, 2u, 16u], c.ToDataPlaneOptions().InterfaceIds);
        string listed = Concentrator.Cli.AdminCommands.RenderConns(AdminApi.ListConns(c));
        Assert.Contains("if_id_in: 1, if_id_out: 2", listed);
        Assert.Contains("if_id_in: 16, if_id_out: 16", listed);

        var plain = ConcentratorConfig.Parse(Conn("", ""), File).Connections["cloud"].Children["t1"];
        Assert.Equal((0u, 0u), (plain.InterfaceIdIn, plain.InterfaceIdOut));
        Assert.Equal(4294967294u, ConcentratorConfig.Parse(Conn("", "if_id_in: 4294967294"), File).Connections["cloud"].Children["t1"].InterfaceIdIn);
    }

    [Theory]
    [InlineData("%unique")]
    [InlineData("%unique-dir")]
    public void Unique_markers_are_refused_naming_the_key(string value)
    {
        var e = Fails(Conn("", $"if_id_out: \"{value}\""));
        Assert.Equal("connections.cloud.children.t1.if_id_out", e.KeyPath);
        Assert.Contains("not supported: give a number", e.Problem);

        var atConnection = Fails(Conn($"if_id_in: \"{value}\"", ""));
        Assert.Equal("connections.cloud.if_id_in", atConnection.KeyPath);
    }

    [Theory]
    [InlineData("4294967295", "out of range")]
    [InlineData("-1", "is not a number")]
    [InlineData("0x", "is not a number")]
    [InlineData("one", "is not a number")]
    [InlineData("1.5", "is not a number")]
    public void Values_outside_0_to_0xfffffffe_are_refused(string value, string problem)
    {
        var e = Fails(Conn("", $"if_id_in: \"{value}\""));
        Assert.Equal("connections.cloud.children.t1.if_id_in", e.KeyPath);
        Assert.Contains(problem, e.Problem);
    }

    [Fact]
    public void Trap_on_a_route_based_child_is_refused()
    {
        var e = Fails(Conn("", "if_id_out: 3\nstart_action: trap"));
        Assert.Equal("connections.cloud.children.t1.start_action", e.KeyPath);
        Assert.Contains("if_id_out 3", e.Problem);
        // if_id_in alone keeps the shared table's outbound lookup, where traps live.
        Assert.Equal("trap", ConcentratorConfig.Parse(Conn("", "if_id_in: 3\nstart_action: trap"), File).Connections["cloud"].Children["t1"].StartAction);
    }

    [Fact]
    public void The_shared_device_may_not_take_a_route_based_interfaces_name()
    {
        var e = Fails(Conn("", "if_id_in: 1\nif_id_out: 1", tunnel: "tunnel: { device: ipsec1 }"));
        Assert.Equal("tunnel.device", e.KeyPath);
        Assert.Contains("if_id 1", e.Problem);
    }
}
