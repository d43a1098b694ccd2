import { checkAccessibility } from './accessibility_check.js';

// WCAG 2.2 AA (accessibility_check.ts): signing in: home to the upstream link.
checkAccessibility('home');
