import { z } from 'zod';
import { passwordLengthProblem } from './password_policy.js';

export const usernameSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(64, 'must be at most 64 characters')
  .regex(/^[A-Za-z0-9][A-Za-z0-9._@+-]*$/, 'may contain letters, digits and . _ @ + - only');

export const emailSchema = z.email({ error: 'must be an email address' }).max(254);

// NIST SP 800-63B: length is what matters; long passphrases allowed. The length rule only:
// password_policy.ts's passwordProblem() adds the checks against common and context passwords.
const passwordSchema = z.string().superRefine((password, ctx) => {
  const problem = passwordLengthProblem(password);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

export const newUserSchema = z.object({
  username: usernameSchema,
  email: emailSchema.optional(),
  name: z.string().min(1).max(200).optional(),
  given_name: z.string().min(1).max(100).optional(),
  family_name: z.string().min(1).max(100).optional(),
  email_verified: z.boolean().default(false),
  password: passwordSchema,
});

export type NewUser = z.input<typeof newUserSchema>;
