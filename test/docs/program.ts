// One TypeScript program holding the package's source and every TypeScript sample of the docs.
import { join } from 'node:path';
import ts from 'typescript';
import type { CodeBlock } from './markdown.js';
import { ROOT } from './markdown.js';

export interface SampleFile {
  block: CodeBlock;
  fileName: string;
}

export interface DocsProgram {
  program: ts.Program;
  checker: ts.TypeChecker;
  samples: SampleFile[];
  /** Diagnostics of one sample, as `page:line: message` with the line in the markdown page. */
  problems(sample: SampleFile): string[];
  /** The property names of a type exported by the package's entry, or undefined when it has no such export. */
  exportedType(name: string): ts.Type | undefined;
}

const ENTRY = join(ROOT, 'src/index.ts');

/**
 * Samples are checked as modules next to the repository's own files (so `express` and `ioredis` resolve
 * from its node_modules) with the repository's compiler options, and `express-redis-kit` maps to the
 * package's public entry.
 */
export function createDocsProgram(blocks: CodeBlock[]): DocsProgram {
  const config = ts.readConfigFile(join(ROOT, 'tsconfig.json'), ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT);
  const options: ts.CompilerOptions = {
    ...parsed.options,
    noEmit: true,
    paths: { 'express-redis-kit': [ENTRY] },
  };
  const samples = blocks.map((block) => ({
    block,
    fileName: join(ROOT, 'test/docs', `sample.${block.page.replace(/[/.]/g, '-')}.L${block.line}.ts`),
  }));
  const sources = new Map(samples.map((s) => [s.fileName, `${s.block.code}\nexport {};\n`]));

  const host = ts.createCompilerHost(options, true);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (fileName) => sources.has(fileName) || fileExists.call(host, fileName);
  host.readFile = (fileName) => sources.get(fileName) ?? readFile.call(host, fileName);
  host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) => {
    const text = sources.get(fileName);
    if (text !== undefined) return ts.createSourceFile(fileName, text, languageVersion, true);
    return getSourceFile.call(host, fileName, languageVersion, onError, shouldCreate);
  };

  const program = ts.createProgram({ rootNames: [ENTRY, ...sources.keys()], options, host });
  const checker = program.getTypeChecker();

  return {
    program,
    checker,
    samples,
    problems(sample) {
      const file = program.getSourceFile(sample.fileName);
      if (!file) return [`${sample.block.page}:${sample.block.line}: sample was not compiled`];
      const diagnostics = [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)];
      return diagnostics.map((d) => {
        const at = d.start === undefined ? 0 : file.getLineAndCharacterOfPosition(d.start).line;
        return `${sample.block.page}:${sample.block.line + at}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
      });
    },
    exportedType(name) {
      const entry = program.getSourceFile(ENTRY);
      const moduleSymbol = entry && checker.getSymbolAtLocation(entry);
      if (!moduleSymbol) throw new Error('The package entry did not compile');
      let symbol = checker.getExportsOfModule(moduleSymbol).find((s) => s.name === name);
      if (!symbol) return undefined;
      if (symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
      return checker.getDeclaredTypeOfSymbol(symbol);
    },
  };
}

/** The property names of an object type, leaving `undefined` and `null` out of unions. */
export function propertyNames(checker: ts.TypeChecker, type: ts.Type): string[] {
  return checker
    .getNonNullableType(type)
    .getProperties()
    .map((p) => p.name)
    .sort();
}

/** The type of property `name` of `type`. */
export function propertyType(checker: ts.TypeChecker, type: ts.Type, name: string): ts.Type | undefined {
  const property = checker.getNonNullableType(type).getProperty(name);
  const declaration = property?.valueDeclaration ?? property?.declarations?.[0];
  return property && declaration ? checker.getTypeOfSymbolAtLocation(property, declaration) : undefined;
}
