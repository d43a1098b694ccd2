import { checkAccessibility } from './accessibility_check.js';

// WCAG 2.2 AA (accessibility_check.ts): registering, verifying an address, resetting a password, the error page.
checkAccessibility('register');
