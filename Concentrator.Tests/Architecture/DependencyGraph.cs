using Mono.Cecil;

namespace Concentrator.Tests.Architecture;

/// <summary>
/// Which folder of <c>Concentrator/</c> uses which, read from the compiled assembly with Mono.Cecil: base types,
/// interfaces, fields, properties, signatures, attributes, locals and every type, method and field a method body
/// names (closures and state machines count for the type that declares them). A folder is the namespace below
/// <c>Concentrator.</c> cut to <c>depth</c> parts, so namespaces must mirror folders (a test checks that too).
/// Constants and <c>nameof</c> leave no trace in IL; the source scan in <see cref="LayeringTests"/> covers them.
/// </summary>
internal sealed class DependencyGraph
{
    private readonly Dictionary<(string From, string To), SortedSet<string>> _edges = new();

    public IReadOnlyDictionary<(string From, string To), SortedSet<string>> Edges => _edges;

    public static DependencyGraph Load(string assemblyPath, int depth)
    {
        var graph = new DependencyGraph();
        using var assembly = AssemblyDefinition.ReadAssembly(assemblyPath);
        var module = assembly.MainModule;
        foreach (var type in module.GetTypes()) graph.Scan(type, module, depth);
        return graph;
    }

    /// <summary>The folder of a type of ours: the namespace after <c>Concentrator.</c>, <paramref name="depth"/> parts;
    /// "" for the top-level Program and for compiler-generated types outside any namespace.</summary>
    public static string FolderOf(string ns, int depth)
    {
        if (!ns.StartsWith("Concentrator.", StringComparison.Ordinal)) return "";
        return string.Join('/', ns["Concentrator.".Length..].Split('.').Take(depth));
    }

    private void Scan(TypeDefinition type, ModuleDefinition module, int depth)
    {
        var outer = type;
        while (outer.DeclaringType is not null) outer = outer.DeclaringType;
        string from = FolderOf(outer.Namespace, depth);
        if (from.Length == 0) return;

        void Use(TypeReference? reference)
        {
            switch (reference)
            {
                case null or GenericParameter:
                    return;
                case GenericInstanceType generic:
                    Use(generic.ElementType);
                    foreach (var argument in generic.GenericArguments) Use(argument);
                    return;
                case TypeSpecification spec:
                    Use(spec.ElementType);
                    return;
            }
            var target = Resolve(reference, module);
            if (target is null) return;
            while (target.DeclaringType is not null) target = target.DeclaringType;
            string to = FolderOf(target.Namespace, depth);
            if (to.Length == 0 || to == from) return;
            if (!_edges.TryGetValue((from, to), out var uses)) _edges[(from, to)] = uses = new SortedSet<string>(StringComparer.Ordinal);
            uses.Add($"{Name(type)} uses {Name(target)}");
        }

        void UseMethod(MethodReference method)
        {
            Use(method.DeclaringType);
            Use(method.ReturnType);
            foreach (var p in method.Parameters) Use(p.ParameterType);
            if (method is GenericInstanceMethod generic)
            {
                foreach (var argument in generic.GenericArguments) Use(argument);
            }
        }

        Use(type.BaseType);
        foreach (var i in type.Interfaces) Use(i.InterfaceType);
        foreach (var a in type.CustomAttributes) UseMethod(a.Constructor);
        foreach (var f in type.Fields) Use(f.FieldType);
        foreach (var p in type.Properties) Use(p.PropertyType);
        foreach (var e in type.Events) Use(e.EventType);
        foreach (var method in type.Methods)
        {
            UseMethod(method);
            foreach (var a in method.CustomAttributes) UseMethod(a.Constructor);
            if (!method.HasBody) continue;
            foreach (var local in method.Body.Variables) Use(local.VariableType);
            foreach (var instruction in method.Body.Instructions)
            {
                switch (instruction.Operand)
                {
                    case TypeReference t: Use(t); break;
                    case MethodReference m: UseMethod(m); break;
                    case FieldReference f: Use(f.DeclaringType); Use(f.FieldType); break;
                }
            }
        }
    }

    /// <summary>Only types defined in our own module count; references into other assemblies resolve to null.</summary>
    private static TypeDefinition? Resolve(TypeReference reference, ModuleDefinition module)
    {
        if (reference is TypeDefinition own) return own.Module == module ? own : null;
        return reference.Scope is ModuleDefinition scope && scope == module ? reference.Resolve() : null;
    }

    private static string Name(TypeDefinition t) => t.FullName.Replace('/', '.');
}
