using Concentrator.Cli;

return await CliApp.RunAsync(args);
