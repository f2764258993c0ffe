// plotly.js's own esbuild settings (its esbuild-config.js), less the WebGL shader plugin that
// none of these traces needs, minified, with the licence kept in a banner.
const esbuild = require('esbuild');
const InlineCSSPlugin = require('esbuild-plugin-inline-css');
const { environmentPlugin } = require('esbuild-plugin-environment');
const version = require('plotly.js/package.json').version;

esbuild
    .build({
        entryPoints: ['./entry.js'],
        outfile: process.argv[2],
        format: 'iife',
        globalName: 'Plotly',
        bundle: true,
        minify: true,
        legalComments: 'none',
        banner: {
            js: `/*! plotly.js v${version} (partial: scatter, bar, heatmap, funnel) | MIT License | ` +
                'built by dashboard/vendor/plotly/build.js */',
        },
        plugins: [InlineCSSPlugin(), environmentPlugin({ NODE_DEBUG: false })],
        alias: { stream: 'stream-browserify' },
        define: { global: 'window', 'define.amd': 'false' },
        target: 'es2016',
        logLevel: 'info',
    })
    .catch(() => process.exit(1));
