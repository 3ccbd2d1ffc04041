// zod-setup must run before any module that builds or parses a schema (the shared settings module does at load).
import './lib/zod-setup.js';
import { mount } from 'svelte';
import App from './App.svelte';
import './styles.css';

mount(App, { target: document.getElementById('app') as HTMLElement });
