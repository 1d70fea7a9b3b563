using Concentrator.Testbed.Interop;
using Xunit.Abstractions;

namespace Concentrator.Tests.Interop;

/// <summary>Interop tests run one at a time: they are CPU-heavy and bounded in wall time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class InteropCollection
{
    public const string Name = "Interop";
}

/// <summary>
/// The xunit side of the namespace harness (Concentrator.Testbed has no xunit): static extension members, so tests
/// keep calling <c>InteropPrerequisites.Check(output)</c> and <c>InteropScope.Create(output)</c> with their
/// <see cref="ITestOutputHelper"/>.
/// </summary>
public static class InteropXunit
{
    extension(InteropPrerequisites)
    {
        /// <summary>
        /// True when the test can run; otherwise fails (CI=true) or writes the reason and returns false (xunit 2 has no
        /// runtime skip without extra packages).
        /// </summary>
        public static bool Check(ITestOutputHelper output, bool needDotnet = false, bool needPki = false)
        {
            var missing = InteropPrerequisites.Missing(needDotnet, needPki);
            if (missing.Count == 0) return true;
            string reason = $"interop prerequisites missing: {string.Join(", ", missing)} (run scripts/install-deps.sh as root)";
            if (InteropPrerequisites.InCi) Assert.Fail(reason);
            output.WriteLine("NOT RUN: " + reason);
            return false;
        }
    }

    extension(InteropPrerequisites)
    {
        /// <summary>
        /// For a root test that runs its own commands rather than the namespace testbed: root, these tools on the PATH and
        /// /dev/net/tun. True when it can run; otherwise fails (CI=true) or writes NOT RUN and returns false.
        /// </summary>
        public static bool CheckRoot(ITestOutputHelper output, params string[] tools)
        {
            var missing = new List<string>();
            if (!Environment.IsPrivilegedProcess) missing.Add("root (network namespaces)");
            missing.AddRange(tools.Where(tool => !Command.Exists(tool)));
            if (!File.Exists("/dev/net/tun")) missing.Add("/dev/net/tun");
            if (missing.Count == 0) return true;
            string reason = $"prerequisites missing: {string.Join(", ", missing)} (run scripts/install-deps.sh as root)";
            if (InteropPrerequisites.InCi) Assert.Fail(reason);
            output.WriteLine("NOT RUN: " + reason);
            return false;
        }
    }

    extension(InteropScope)
    {
        /// <summary>A scope whose log is the test's output.</summary>
        public static InteropScope Create(ITestOutputHelper output, bool withNatRouter = false, double budgetSeconds = 50, bool ipv6 = false) =>
            InteropScope.Create(output.WriteLine, withNatRouter, budgetSeconds, ipv6);
    }
}
